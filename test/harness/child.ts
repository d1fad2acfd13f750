import { spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'

export type ManagedChild = {
  proc: ChildProcess
  /** Last few KB of the child's stdout+stderr, for error messages. */
  output(): string
  /** Resolves with the exit code or signal once the child has exited (immediately if it already has). */
  exited: Promise<string>
  hasExited(): boolean
  /** SIGTERM, then SIGKILL after graceMs; resolves once the child is gone. Safe to call repeatedly. */
  stop(graceMs?: number): Promise<void>
}

const OUTPUT_LIMIT = 8 * 1024
const live = new Set<ChildProcess>()
let exitHookInstalled = false

// A crashed or interrupted test run must not leave squid/microsocks behind, so anything still running when
// the worker exits gets SIGKILLed (synchronously: 'exit' handlers cannot await).
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const proc of live) killGroup(proc, 'SIGKILL')
  })
}

// Children are started in their own process group so that helpers they fork (squid's auth helpers) go too.
function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return
  try {
    process.kill(-proc.pid, signal)
  } catch {
    try {
      proc.kill(signal)
    } catch {
      // Already gone.
    }
  }
}

export function startChild(command: string, args: string[], options: SpawnOptions = {}): ManagedChild {
  installExitHook()
  const proc = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(proc)
  let output = ''
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT)
  }
  proc.stdout?.on('data', append)
  proc.stderr?.on('data', append)

  let done = false
  const exited = new Promise<string>((resolve) => {
    const finish = (how: string): void => {
      if (done) return
      done = true
      live.delete(proc)
      resolve(how)
    }
    proc.once('exit', (code, signal) => finish(signal ?? `exit code ${code ?? 'unknown'}`))
    proc.once('error', (err) => finish(`spawn error: ${err.message}`))
  })

  let stopping: Promise<void> | undefined
  const stop = (graceMs = 3000): Promise<void> => {
    stopping ??= (async () => {
      if (!done) {
        killGroup(proc, 'SIGTERM')
        let timer: NodeJS.Timeout | undefined
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))
        ])
        clearTimeout(timer)
        if (timedOut) {
          killGroup(proc, 'SIGKILL')
          await exited
        }
      }
    })()
    return stopping
  }

  return { proc, output: () => output, exited, hasExited: () => done, stop }
}
