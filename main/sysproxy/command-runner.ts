/**
 * Runs the OS tools that change proxy settings: always `execFile` with an argument array (never a
 * shell string), always with a timeout, and with errors that say which command failed and why.
 * Platform modules take a `CommandRunner` so tests can record the exact command sequence.
 */
import { execFile } from 'node:child_process'

export interface CommandResult {
  stdout: string
  stderr: string
}

export interface CommandOptions {
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  /** Text written to the command's standard input. */
  input?: string
}

export type CommandRunner = (file: string, args: string[], options?: CommandOptions) => Promise<CommandResult>

export type CommandFailure = 'missing' | 'timeout' | 'failed' | 'permission'

export class CommandError extends Error {
  readonly failure: CommandFailure
  readonly command: string
  readonly stderr: string

  constructor(failure: CommandFailure, command: string, message: string, stderr = '') {
    super(message)
    this.name = 'CommandError'
    this.failure = failure
    this.command = command
    this.stderr = stderr
  }
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000

export const runCommand: CommandRunner = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, env: options.env ?? process.env, maxBuffer: 4 * 1024 * 1024, windowsHide: true },
      (error, stdout, stderr) => {
        if (!error) return resolve({ stdout, stderr })
        const err = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string }
        if (err.code === 'ENOENT')
          return reject(
            new CommandError('missing', file, `${file} was not found: is it installed and on PATH?`)
          )
        if (err.killed)
          return reject(
            new CommandError('timeout', file, `${file} did not finish within ${timeoutMs / 1000} s`, stderr)
          )
        const detail = (stderr || stdout).trim().split('\n').slice(-3).join(' ').slice(0, 500)
        const denied = /permission|not permitted|admin|privilege|access is denied/i.test(detail)
        reject(
          new CommandError(
            denied ? 'permission' : 'failed',
            file,
            `${file} ${args[0] ?? ''} failed${typeof err.code === 'number' ? ` (exit ${err.code})` : ''}: ${detail || err.message}`,
            stderr
          )
        )
      }
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
  })

/**
 * Runs every step even when one fails, so a restore puts back as much as it can, then throws the first
 * failure. A missing command stops at once: every later step would fail the same way.
 */
export async function runAll(steps: Array<() => Promise<unknown>>): Promise<void> {
  let failure: { error: unknown } | null = null
  for (const step of steps) {
    try {
      await step()
    } catch (error) {
      if (error instanceof CommandError && error.failure === 'missing') throw error
      failure ??= { error }
    }
  }
  if (failure) throw failure.error
}
