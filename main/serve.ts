import { main } from './headless.ts'

await main(process.argv.slice(2))
