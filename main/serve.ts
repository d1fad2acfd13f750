// Headless entry point: `node out/main/serve.js [ARGS…]` (built by `npm run serve` and `npm start`),
// or `node main/serve.ts` from the sources (tests). The built entry runs plain JavaScript: stripping
// TypeScript at run time keeps Node's type stripper in memory, about 30 MiB of the idle process.
import path from 'node:path'
import { withOneMallocArena } from './app/malloc-arena.ts'

// Before the rest is loaded: on Linux this may restart the process (malloc-arena.ts says why).
withOneMallocArena(import.meta.filename, process.argv.slice(2))
const { main } = await import('./app/cli.ts')

const here = import.meta.dirname
const built = path.basename(path.dirname(here)) === 'out'

await main(process.argv.slice(2), {
  rendererDir: path.join(here, built ? '../renderer' : '../out/renderer'),
  watchdogScript: path.join(here, built ? 'watchdog.js' : 'sysproxy/watchdog-main.ts')
})
