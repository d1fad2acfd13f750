/**
 * The system-proxy watchdog: a small process that Junction starts while it has the OS proxy pointed
 * at itself. When Junction dies without turning it off — SIGKILL, a crash, the OOM killer — nothing
 * in Junction can run any more, so this process puts the user's settings back from the journal,
 * within a second or two instead of at Junction's next start.
 *
 * It learns of its parent's death from its standard input: Junction holds the only write end of that
 * pipe, and the OS closes it when Junction goes, however it goes. Junction writes `disarm` before it
 * closes the pipe when it has restored the settings itself; then the watchdog exits without touching
 * anything. It runs in a process group (and session) of its own and ignores the terminal's signals,
 * so a Ctrl+C or a closed terminal that kills Junction does not kill it too. It never outlives
 * Junction: once the pipe closes it restores (or not) and exits.
 *
 * This is the Node watchdog, for platforms whose restore is more than a list of commands (Windows,
 * where the registry is read first); Linux and macOS run the same protocol in `/bin/sh` with a restore
 * plan instead (watchdog-script.ts), in about 1/40 of the memory. Plain Node, no Electron: the desktop
 * app runs it with its own executable in Node mode.
 */
import { promises as fs } from 'node:fs'

export const DISARM = 'disarm'

/**
 * Marks a watchdog's command line, so that a desktop build that cannot run as Node (its `runAsNode`
 * fuse off) and so starts as Electron recognises the call and acts as the watchdog instead of
 * opening a second Junction.
 */
export const WATCHDOG_FLAG = '--junction-watchdog'

export interface WatchdogOptions {
  journalPath: string
  input: NodeJS.ReadableStream
  log: (line: string) => void
}

/** What the watchdog did once its input closed. */
export type WatchdogOutcome = 'disarmed' | 'nothing-to-restore' | 'restored' | 'failed'

/** Waits for the input to close, then restores the journal unless told `disarm` first. */
export async function watch(options: WatchdogOptions): Promise<WatchdogOutcome> {
  const disarmed = await new Promise<boolean>((resolve) => {
    let text = ''
    options.input.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.split('\n').includes(DISARM)) resolve(true)
    })
    // 'error' too: a broken pipe means the same thing as a closed one.
    options.input.once('end', () => resolve(false))
    options.input.once('error', () => resolve(false))
  })
  if (disarmed) return 'disarmed'
  return restoreJournal(options)
}

async function restoreJournal(options: WatchdogOptions): Promise<WatchdogOutcome> {
  const { journalPath, log } = options
  // Loaded only now: while it waits, which is nearly always, the watchdog stays small (each module
  // Node strips the types of costs it several MiB).
  const { claimJournal, parseJournal, releaseClaim } = await import('./journal.ts')
  const { platformById } = await import('./detect.ts')
  let claimed: string | null
  try {
    claimed = await claimJournal(journalPath)
  } catch (error) {
    log(`cannot take the journal ${journalPath}: ${(error as Error).message}`)
    return 'failed'
  }
  // Junction restored and removed it before it died: nothing is left to do.
  if (claimed === null) return 'nothing-to-restore'
  try {
    const journal = parseJournal(await fs.readFile(claimed, 'utf8'))
    await platformById(journal.snapshot.platform).restore(journal.snapshot, journal.applied)
    await fs.rm(claimed, { force: true })
    log(`Junction stopped without restoring the system proxy; restored the settings from ${journal.at}`)
    return 'restored'
  } catch (error) {
    // Handed back: the next start tries again.
    await releaseClaim(claimed, journalPath).catch(() => undefined)
    log(
      `Junction stopped and restoring the system proxy failed (${(error as Error).message}); the next start will try again`
    )
    return 'failed'
  }
}

/**
 * The watchdog as a whole process: `… --junction-watchdog JOURNAL` on the command line, the pipe from
 * Junction on `input`. Resolves with the exit code.
 */
export async function runWatchdogProcess(argv: string[], input: NodeJS.ReadableStream): Promise<number> {
  // The signals a terminal sends to everything in it: Junction handles them and disarms us itself.
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.on(signal, () => undefined)
  // Junction's terminal or pipe may be gone: a failed log line must not stop the restore.
  process.stderr.on('error', () => undefined)
  const journalPath = argv.slice(argv.indexOf(WATCHDOG_FLAG) + 1)[0]
  if (!argv.includes(WATCHDOG_FLAG) || !journalPath) {
    process.stderr.write(`usage: watchdog-main ${WATCHDOG_FLAG} JOURNAL\n`)
    return 2
  }
  const outcome = await watch({
    journalPath,
    input,
    log: (line) => process.stderr.write(`[junction] watchdog: ${line}\n`)
  })
  return outcome === 'failed' ? 1 : 0
}
