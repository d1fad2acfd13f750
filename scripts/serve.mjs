// Runs headless mode straight from the TypeScript sources. Node 22.18+ strips types by itself;
// Node 22.12–22.17 needs the flag, so re-run with it there.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const entry = fileURLToPath(new URL('../main/serve.ts', import.meta.url))
const flags = process.features.typescript ? [] : ['--experimental-strip-types', '--no-warnings']
const child = spawn(process.execPath, [...flags, entry, ...process.argv.slice(2)], { stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
