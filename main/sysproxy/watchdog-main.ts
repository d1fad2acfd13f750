// The watchdog process's entry: `node watchdog-main.ts --junction-watchdog JOURNAL`, started by
// watchdog-launch.ts.
import { WATCHDOG_FLAG, watch } from './watchdog.ts'

// The signals a terminal sends to everything in it: Junction handles them and disarms us itself.
for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.on(signal, () => undefined)
// Junction's terminal or pipe may be gone: a failed log line must not stop the restore.
process.stderr.on('error', () => undefined)

const journalPath = process.argv.slice(2).find((arg) => arg !== WATCHDOG_FLAG)
if (!journalPath) {
  console.error(`usage: watchdog-main ${WATCHDOG_FLAG} JOURNAL`)
  process.exit(2)
}
const outcome = await watch({
  journalPath,
  input: process.stdin,
  log: (line) => process.stderr.write(`[junction] watchdog: ${line}\n`)
})
process.exit(outcome === 'failed' ? 1 : 0)
