/**
 * Headless Junction stops, cleanly, when the process that launched it goes away, so that a killed
 * `npm run serve` / `npm start` never leaves an orphan engine with the system proxy pointing at it.
 *
 * A dead parent shows as a changed `process.ppid` (the orphan is handed to init or a subreaper). npm
 * runs scripts through `sh -c`, which does not exec the command (Debian's dash forks it): when npm is
 * killed, that shell stays alive waiting for Junction, and only the shell's own parent changes. So
 * when the parent is a shell started by npm, its parent is watched too (Linux, through /proc).
 */
import { readFileSync } from 'node:fs'

const SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ash', 'ksh'])

/** The parent pid of `pid` from /proc (Linux), or null when unknown or gone. */
export function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // `pid (comm) state ppid …`, where comm may itself contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    return Number.isInteger(ppid) ? ppid : null
  } catch {
    return null
  }
}

function commandName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return null
  }
}

/**
 * Calls `onGone` once when the launcher is gone; returns a function that stops watching. Nothing is
 * watched when init itself started Junction (a service manager, a container's entry point).
 */
export function watchLauncher(
  onGone: () => void,
  { intervalMs = 500, env = process.env }: { intervalMs?: number; env?: NodeJS.ProcessEnv } = {}
): () => void {
  const parent = process.ppid
  if (parent <= 1) return () => undefined
  const viaNpm = env.npm_lifecycle_event !== undefined && SHELLS.has(commandName(parent) ?? '')
  const grandparent = viaNpm ? parentOf(parent) : null
  const timer = setInterval(() => {
    const gone = process.ppid !== parent || (grandparent !== null && parentOf(parent) !== grandparent)
    if (!gone) return
    clearInterval(timer)
    onGone()
  }, intervalMs)
  // Watching must never be what keeps Junction running.
  timer.unref()
  return () => clearInterval(timer)
}
