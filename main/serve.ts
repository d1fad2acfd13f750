// Headless entry point: `node main/serve.ts [ARGS…]`, or imported in-process by scripts/start.mjs.
import { main } from './app/cli.ts'

await main(process.argv.slice(2))
