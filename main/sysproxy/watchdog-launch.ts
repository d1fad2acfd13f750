/**
 * Junction's side of the watchdog: starts one when a journal is written, tells it to stand down when
 * the settings are back. On Linux and macOS it is `/bin/sh` running the platform's restore plan
 * (watchdog-script.ts, under 2 MiB). Where a platform has no plan (Windows) it is the Node watchdog
 * (watchdog.ts), and which executable runs that is the caller's choice: Node with type stripping for
 * headless mode (the sources run as they are), Electron's own binary in Node mode for the desktop app,
 * which has no separate `node`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import type { JournalWatch } from './system-proxy.ts'
import { DISARM, WATCHDOG_FLAG } from './watchdog.ts'
import { SCRIPT_COMMAND, SCRIPT_VARIABLE, watchdogScript } from './watchdog-script.ts'

export interface WatchdogLauncher {
  command: string
  /** Arguments before the journal path. */
  args: string[]
  env?: Record<string, string>
}

/**
 * Headless mode: this Node, running the watchdog's entry — the built `watchdog.js`, or from the sources
 * the TypeScript entry next to this file, whose types Node strips.
 */
export function headlessWatchdog(
  script = path.join(import.meta.dirname, 'watchdog-main.ts')
): WatchdogLauncher {
  const strip = script.endsWith('.ts')
    ? ['--experimental-strip-types', '--disable-warning=ExperimentalWarning']
    : []
  return { command: process.execPath, args: [...strip, script, WATCHDOG_FLAG] }
}

/** The desktop app: its Electron binary as plain Node, running the bundled entry (`watchdog.js`). */
export function electronWatchdog(execPath: string, script: string): WatchdogLauncher {
  return { command: execPath, args: [script, WATCHDOG_FLAG], env: { ELECTRON_RUN_AS_NODE: '1' } }
}

/** POSIX systems run a platform's restore plan in the system shell; Windows has none to run it. */
export const DEFAULT_SHELL = process.platform === 'win32' ? null : '/bin/sh'

/**
 * A `JournalWatch` that keeps one watchdog process running while armed: `shell` running the restore
 * plan where the platform has one, else the `launcher`'s Node watchdog. A new plan (something else was
 * applied) starts a new watchdog first and then disarms the old one, so none is missing in between.
 */
export function watchdogs(
  launcher: WatchdogLauncher,
  log: (line: string) => void,
  shell: string | null = DEFAULT_SHELL
): JournalWatch {
  let child: ChildProcess | null = null
  /** What the running watchdog runs: its script, or '' for the Node watchdog. */
  let running = ''
  const start = (journalPath: string, script: string | null): ChildProcess =>
    script === null
      ? spawnWatchdog(launcher.command, [...launcher.args, journalPath], launcher.env ?? {})
      : spawnWatchdog(shell!, ['-c', SCRIPT_COMMAND, 'junction-watchdog', journalPath], {
          [SCRIPT_VARIABLE]: script
        })
  return {
    arm(journalPath, plan) {
      const script = plan && shell ? watchdogScript(plan) : null
      if (child && running === (script ?? '')) return
      const previous = child
      const started = start(journalPath, script)
      child = started
      running = script ?? ''
      previous?.stdin?.end(`${DISARM}\n`)
      // Written after Junction is gone, too; nobody is left to hear about it.
      started.stdin!.on('error', () => undefined)
      started.once('error', (error) => {
        log(
          `system proxy: the watchdog could not start (${error.message}); a crash would leave the proxy set until the next start`
        )
        if (child === started) child = null
      })
      started.once('exit', (code, signal) => {
        if (child !== started) return
        child = null
        log(`system proxy: the watchdog stopped unexpectedly (${signal ?? `exit ${code}`})`)
      })
      if (started.pid !== undefined)
        log(`system proxy: watchdog started (pid ${started.pid}, ${script === null ? 'node' : 'sh'})`)
    },
    disarm() {
      const armed = child
      child = null
      armed?.stdin?.end(`${DISARM}\n`)
    }
  }
}

function spawnWatchdog(command: string, args: string[], env: Record<string, string>): ChildProcess {
  const started = spawn(command, args, {
    env: { ...process.env, ...env },
    // Its own process group and session: the signal or closed terminal that ends Junction must not
    // end the watchdog too.
    detached: true,
    stdio: ['pipe', 'ignore', 'inherit'],
    windowsHide: true
  })
  // Neither the process nor the pipe may keep Junction's event loop alive.
  started.unref()
  ;(started.stdin as unknown as { unref(): void }).unref()
  return started
}
