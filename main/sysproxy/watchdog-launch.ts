/**
 * Junction's side of the watchdog (watchdog.ts): starts one when a journal is written, tells it to
 * stand down when the settings are back. Which executable runs it is the caller's choice: Node with
 * type stripping for headless mode (the sources run as they are), Electron's own binary in Node mode
 * for the desktop app, which has no separate `node`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import type { JournalWatch } from './system-proxy.ts'
import { DISARM, WATCHDOG_FLAG } from './watchdog.ts'

export interface WatchdogLauncher {
  command: string
  /** Arguments before the journal path. */
  args: string[]
  env?: Record<string, string>
}

/** Headless mode: this Node, running the TypeScript entry next to this file. */
export function headlessWatchdog(): WatchdogLauncher {
  return {
    command: process.execPath,
    args: [
      '--experimental-strip-types',
      '--disable-warning=ExperimentalWarning',
      path.join(import.meta.dirname, 'watchdog-main.ts'),
      WATCHDOG_FLAG
    ]
  }
}

/** The desktop app: its Electron binary as plain Node, running the bundled entry (`watchdog.js`). */
export function electronWatchdog(execPath: string, script: string): WatchdogLauncher {
  return { command: execPath, args: [script, WATCHDOG_FLAG], env: { ELECTRON_RUN_AS_NODE: '1' } }
}

/** A `JournalWatch` that keeps one watchdog process running while armed. */
export function watchdogs(launcher: WatchdogLauncher, log: (line: string) => void): JournalWatch {
  let child: ChildProcess | null = null
  return {
    arm(journalPath) {
      if (child) return
      const started = spawn(launcher.command, [...launcher.args, journalPath], {
        env: { ...process.env, ...launcher.env },
        // Its own process group and session: the signal or closed terminal that ends Junction must not
        // end the watchdog too.
        detached: true,
        stdio: ['pipe', 'ignore', 'inherit'],
        windowsHide: true
      })
      child = started
      // Neither the process nor the pipe may keep Junction's event loop alive.
      started.unref()
      ;(started.stdin as unknown as { unref(): void }).unref()
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
      if (started.pid !== undefined) log(`system proxy: watchdog started (pid ${started.pid})`)
    },
    disarm() {
      const running = child
      child = null
      running?.stdin?.end(`${DISARM}\n`)
    }
  }
}
