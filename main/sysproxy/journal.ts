/**
 * The system-proxy journal on disk: the user's settings from before Junction changed them, written
 * before the first change and deleted once they are back.
 *
 * Two processes may want to restore it after a crash: the watchdog (at once, when Junction dies) and
 * the next Junction (at its start). Whoever restores first takes the journal by renaming it to
 * `<journal>.claimed-<pid>`: a rename is atomic, so exactly one of them gets it, and the other never
 * writes an old snapshot over settings that were restored (and perhaps changed by the user) since.
 * A claim whose process is gone was abandoned half-way and may be taken over.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { writeAtomically } from '../config/json-file.ts'
import type { DesiredProxy, OsSnapshot, PlatformId } from './types.ts'

export interface Journal {
  version: 1
  platform: PlatformId
  snapshot: OsSnapshot
  desired: DesiredProxy
  /**
   * Every setting applied since the snapshot, each recorded before it is applied: what a restore has to
   * undo (on macOS it decides which never-set proxies to empty again). Absent in older journals.
   */
  applied?: DesiredProxy[]
  at: string
}

const CLAIM = '.claimed-'

export async function writeJournal(journalPath: string, journal: Journal): Promise<void> {
  await writeAtomically(journalPath, `${JSON.stringify(journal, null, 2)}\n`)
}

/** Parses a journal file's text; throws with a reason when it is not one this version wrote. */
export function parseJournal(text: string, platform?: PlatformId): Journal {
  const journal = JSON.parse(text) as Journal
  if (
    journal?.version !== 1 ||
    typeof journal.snapshot?.platform !== 'string' ||
    (journal.applied !== undefined && !Array.isArray(journal.applied))
  )
    throw new Error('unexpected content')
  if (platform !== undefined && journal.snapshot.platform !== platform)
    throw new Error(`it was written for ${journal.snapshot.platform}, this is ${platform}`)
  return journal
}

/** True while `pid` is a running process (EPERM: running, under another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const claimPath = (journalPath: string, pid: number) => `${journalPath}${CLAIM}${pid}`

/**
 * Takes the journal for this process. Returns the claimed file's path, or null when there is no
 * journal to take (none was written, or another process took it first).
 */
export async function claimJournal(journalPath: string): Promise<string | null> {
  const claimed = claimPath(journalPath, process.pid)
  try {
    await fs.rename(journalPath, claimed)
    return claimed
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}

/** Gives a claimed journal back (a restore failed), unless a newer journal has been written since. */
export async function releaseClaim(claimed: string, journalPath: string): Promise<void> {
  try {
    await fs.link(claimed, journalPath)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  await fs.rm(claimed, { force: true })
}

/** Claims left by other processes, with their pids. */
async function otherClaims(journalPath: string): Promise<{ file: string; pid: number }[]> {
  const dir = path.dirname(journalPath)
  const prefix = `${path.basename(journalPath)}${CLAIM}`
  const names = await fs.readdir(dir).catch(() => [] as string[])
  return names
    .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
    .map((n) => ({ file: path.join(dir, n), pid: Number(n.slice(prefix.length)) }))
    .filter((c) => c.pid !== process.pid)
}

/**
 * Before a start reads the journal: waits (at most `waitMs`) for a watchdog that is restoring right
 * now, and takes over any claim whose process died before finishing, so it is restored once more.
 */
export async function settleClaims(journalPath: string, waitMs = 10_000): Promise<void> {
  const deadline = Date.now() + waitMs
  for (;;) {
    const claims = await otherClaims(journalPath)
    const live = claims.filter((c) => processAlive(c.pid))
    for (const dead of claims.filter((c) => !live.includes(c)))
      await fs.rename(dead.file, journalPath).catch(() => undefined)
    if (live.length === 0 || Date.now() >= deadline) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
