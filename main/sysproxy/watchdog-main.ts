// The watchdog process's entry: `node watchdog-main.ts --junction-watchdog JOURNAL`, started by
// watchdog-launch.ts.
import { runWatchdogProcess } from './watchdog.ts'

process.exit(await runWatchdogProcess(process.argv, process.stdin))
