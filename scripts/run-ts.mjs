// Runs a TypeScript entry point straight from source: `node scripts/run-ts.mjs FILE [ARGS…]`.
// Node 22.18+ strips types by itself; Node 22.12–22.17 needs the flag, so re-run with it there.
import { spawn } from 'node:child_process'
import path from 'node:path'

const [entry, ...args] = process.argv.slice(2)
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs FILE.ts [ARGS…]')
  process.exit(2)
}
const flags = process.features.typescript ? [] : ['--experimental-strip-types', '--no-warnings']
const child = spawn(process.execPath, [...flags, path.resolve(entry), ...args], { stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
