/**
 * Turns the OS proxy on and off without ever leaving the user offline or losing their settings.
 *
 * - Before the first change, the complete current settings are read and written to a journal in the
 *   data directory; turning off, quitting or an engine failure writes exactly that snapshot back and
 *   deletes the journal. While the journal exists a watchdog process (see watchdog-launch.ts) waits
 *   to restore it should Junction die; it is re-armed whenever a new setting is applied, since what
 *   a restore must undo can depend on it (macOS). A journal found at start means both failed:
 *   `recover()` restores it before anything else.
 * - Every apply is read back; a mismatch, or a command failing half-way, restores the snapshot and
 *   reports the error.
 * - A guard polls the settings while they are on. When another program changes them, Junction either
 *   re-applies once or yields (keeps their settings, drops its journal). Re-applying twice within a
 *   minute means a fight, and Junction yields instead of looping.
 */
import { EventEmitter } from 'node:events'
import { promises as fs } from 'node:fs'
import { fail, ok, type Result } from '../../common/result.ts'
import {
  claimJournal,
  parseJournal,
  releaseClaim,
  settleClaims,
  writeJournal,
  type Journal
} from './journal.ts'
import type { RestorePlan } from './restore-plan.ts'
import type { DesiredProxy, OsSnapshot, ProxyEndpoint, ProxyView, SystemProxyPlatform } from './types.ts'

export type GuardPolicy = 'reapply' | 'yield'

export type SystemProxyState =
  { status: 'off' } | { status: 'on'; desired: DesiredProxy } | { status: 'yielded'; reason: string }

export interface ChangeReport {
  expected: DesiredProxy
  actual: ProxyView
  action: 'reapplied' | 'yielded'
}

/** Whatever restores the journal if this process dies (the watchdog): armed while a journal exists. */
export interface JournalWatch {
  /**
   * Called when the journal is written, and again whenever `plan` may have changed (a new setting
   * applied); `plan` is the platform's restore as commands, null where it has none.
   */
  arm(journalPath: string, plan: RestorePlan | null): void
  disarm(): void
}

interface Events {
  state: [SystemProxyState]
  changed: [ChangeReport]
  error: [string]
}

export interface SystemProxyOptions {
  journalPath: string
  guard?: GuardPolicy
  guardIntervalMs?: number
  now?: () => number
  watch?: JournalWatch | null
}

const sameEndpoint = (a: ProxyEndpoint | null, b: ProxyEndpoint | null): boolean =>
  a === b || (a !== null && b !== null && a.host === b.host && a.port === b.port)

/** Lists how `view` differs from what `desired` should have produced; empty when it matches. */
export function differences(desired: DesiredProxy, view: ProxyView): string[] {
  if (desired.mode === 'pac') {
    const out: string[] = []
    if (view.mode !== 'pac') out.push(`mode is ${view.mode}, expected pac`)
    if (view.pacUrl !== desired.url) out.push(`PAC URL is ${view.pacUrl ?? 'unset'}, expected ${desired.url}`)
    return out
  }
  const out: string[] = []
  const show = (e: ProxyEndpoint | null) => (e ? `${e.host}:${e.port}` : 'unset')
  if (view.mode !== 'manual') out.push(`mode is ${view.mode}, expected manual`)
  if (!sameEndpoint(view.http, desired.http))
    out.push(`HTTP proxy is ${show(view.http)}, expected ${show(desired.http)}`)
  if (!sameEndpoint(view.https, desired.https))
    out.push(`HTTPS proxy is ${show(view.https)}, expected ${show(desired.https)}`)
  if (!sameEndpoint(view.socks, desired.socks))
    out.push(`SOCKS proxy is ${show(view.socks)}, expected ${show(desired.socks)}`)
  const bypass = [...view.bypass].sort().join(',')
  if (bypass !== [...desired.bypass].sort().join(','))
    out.push(`bypass list is [${view.bypass.join(', ')}], expected [${desired.bypass.join(', ')}]`)
  return out
}

export class SystemProxy extends EventEmitter<Events> {
  private readonly platform: SystemProxyPlatform
  private readonly journalPath: string
  private readonly guardPolicy: GuardPolicy
  private readonly guardIntervalMs: number
  private readonly now: () => number
  private readonly watch: JournalWatch | null
  private journal: Journal | null = null
  private current: SystemProxyState = { status: 'off' }
  private guardTimer: NodeJS.Timeout | null = null
  private lastReapplyAt = -Infinity
  private busy: Promise<unknown> = Promise.resolve()

  constructor(platform: SystemProxyPlatform, options: SystemProxyOptions) {
    super()
    this.platform = platform
    this.journalPath = options.journalPath
    this.guardPolicy = options.guard ?? 'reapply'
    this.guardIntervalMs = options.guardIntervalMs ?? 5000
    this.now = options.now ?? Date.now
    this.watch = options.watch ?? null
  }

  get state(): SystemProxyState {
    return this.current
  }

  /** One change at a time: a guard check never interleaves with an enable or disable. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.busy.then(task, task)
    this.busy = next.catch(() => undefined)
    return next
  }

  private setState(state: SystemProxyState): void {
    this.current = state
    this.emit('state', state)
  }

  /**
   * Restores settings left behind by a Junction that did not exit cleanly. Returns what was done, in
   * words, or null when there was nothing to recover.
   */
  recover(): Promise<Result<string | null>> {
    return this.serial(async () => {
      let claimed: string | null
      let text: string
      try {
        // A watchdog may be restoring this very journal: wait for it rather than race it.
        await settleClaims(this.journalPath)
        claimed = await claimJournal(this.journalPath)
        // It may have taken the journal just before us: then wait for it to finish too, or take over
        // what it left half-done.
        if (claimed === null) {
          await settleClaims(this.journalPath)
          claimed = await claimJournal(this.journalPath)
        }
        if (claimed === null) return ok(null)
        text = await fs.readFile(claimed, 'utf8')
      } catch (error) {
        return fail('io-error', `Cannot read ${this.journalPath}: ${(error as Error).message}`)
      }
      let journal: Journal
      try {
        journal = parseJournal(text, this.platform.id)
      } catch (error) {
        const aside = `${this.journalPath}.corrupt-${new Date(this.now()).toISOString().replace(/[:.]/g, '-')}`
        await fs.rename(claimed, aside).catch(() => undefined)
        return fail(
          'io-error',
          `The system proxy journal was unreadable (${(error as Error).message}) and was moved to ${aside}; check your proxy settings by hand`
        )
      }
      try {
        await this.platform.restore(journal.snapshot, journal.applied)
      } catch (error) {
        await releaseClaim(claimed, this.journalPath).catch(() => undefined)
        return fail(
          'engine-error',
          `Could not restore the system proxy from the last session: ${(error as Error).message}`
        )
      }
      await fs.rm(claimed, { force: true })
      return ok(`restored the system proxy settings from before Junction's last session (${journal.at})`)
    })
  }

  /** Points the OS at Junction; on any failure the previous settings are put back. */
  enable(desired: DesiredProxy): Promise<Result<ProxyView>> {
    return this.serial(async () => {
      const recorded = await this.record(desired)
      if (!recorded.ok) return recorded
      const journal = recorded.value
      const result = await this.applyChecked(desired, journal)
      if (!result.ok) return result
      this.journal = { ...journal, desired }
      await writeJournal(this.journalPath, this.journal).catch(() => undefined)
      this.setState({ status: 'on', desired })
      this.startGuard()
      return result
    })
  }

  /**
   * The journal `desired` is about to be applied under: the current one, or a new one with the
   * settings as they are now. A setting not applied before is recorded in it first, and the watchdog
   * re-armed with a plan that undoes it too, so a crash half-way through applying it is covered.
   */
  private async record(desired: DesiredProxy): Promise<Result<Journal>> {
    let journal = this.journal
    if (!journal) {
      let snapshot: OsSnapshot
      try {
        snapshot = await this.platform.snapshot()
      } catch (error) {
        return fail(
          'engine-error',
          `Could not read the current system proxy settings: ${(error as Error).message}`
        )
      }
      const at = new Date(this.now()).toISOString()
      journal = { version: 1, platform: snapshot.platform, snapshot, desired, applied: [], at }
    }
    const applied = journal.applied ?? []
    if (applied.some((d) => JSON.stringify(d) === JSON.stringify(desired))) return ok(journal)
    const grown = [...applied, desired]
    journal = { ...journal, applied: grown }
    try {
      await writeJournal(this.journalPath, journal)
    } catch (error) {
      return fail(
        'io-error',
        `Could not save the system proxy journal, so nothing was changed: ${(error as Error).message}`
      )
    }
    this.watch?.arm(this.journalPath, this.platform.restorePlan?.(journal.snapshot, grown) ?? null)
    return ok(journal)
  }

  private async applyChecked(desired: DesiredProxy, journal: Journal): Promise<Result<ProxyView>> {
    let problem: string
    try {
      await this.platform.apply(desired)
      const view = this.platform.view(await this.platform.snapshot())
      const diff = differences(desired, view)
      if (diff.length === 0) return ok(view)
      problem = `the settings read back differ: ${diff.join('; ')}`
    } catch (error) {
      problem = (error as Error).message
    }
    const restored = await this.putBack(journal)
    return fail(
      'engine-error',
      `Could not set the system proxy: ${problem}. ${restored ? 'The previous settings were restored.' : 'Restoring the previous settings failed too; check them by hand.'}`
    )
  }

  private async putBack(journal: Journal): Promise<boolean> {
    this.stopGuard()
    try {
      await this.platform.restore(journal.snapshot, journal.applied)
      await fs.rm(this.journalPath, { force: true })
      this.watch?.disarm()
      this.journal = null
      this.setState({ status: 'off' })
      return true
    } catch (error) {
      this.emit('error', `Restoring the system proxy failed: ${(error as Error).message}`)
      return false
    }
  }

  /** Puts back the settings Junction found; nothing happens when it had not changed them. */
  disable(): Promise<Result<void>> {
    return this.serial(async () => {
      const journal = this.journal
      this.stopGuard()
      if (!journal) {
        if (this.current.status !== 'off') this.setState({ status: 'off' })
        return ok(undefined)
      }
      return (await this.putBack(journal))
        ? ok(undefined)
        : fail(
            'engine-error',
            'Could not restore the previous system proxy settings; the journal was kept for the next start'
          )
    })
  }

  private startGuard(): void {
    this.stopGuard()
    this.guardTimer = setInterval(() => void this.serial(() => this.check()), this.guardIntervalMs)
    this.guardTimer.unref()
  }

  private stopGuard(): void {
    if (this.guardTimer) clearInterval(this.guardTimer)
    this.guardTimer = null
  }

  /** One guard round: are the settings still Junction's? */
  async check(): Promise<void> {
    const journal = this.journal
    if (!journal || this.current.status !== 'on') return
    let view: ProxyView
    try {
      view = this.platform.view(await this.platform.snapshot())
    } catch (error) {
      this.emit('error', `Could not read the system proxy settings: ${(error as Error).message}`)
      return
    }
    if (differences(journal.desired, view).length === 0) return
    const now = this.now()
    const fighting = now - this.lastReapplyAt < 60_000
    if (this.guardPolicy === 'reapply' && !fighting) {
      this.lastReapplyAt = now
      this.emit('changed', { expected: journal.desired, actual: view, action: 'reapplied' })
      try {
        await this.platform.apply(journal.desired)
      } catch (error) {
        this.emit('error', `Re-applying the system proxy failed: ${(error as Error).message}`)
      }
      return
    }
    // Their settings stand: restoring Junction's old snapshot later would undo the other program's change.
    this.emit('changed', { expected: journal.desired, actual: view, action: 'yielded' })
    this.stopGuard()
    this.journal = null
    await fs.rm(this.journalPath, { force: true })
    this.watch?.disarm()
    this.setState({
      status: 'yielded',
      reason: fighting
        ? 'another program keeps changing the system proxy; Junction stopped re-applying its settings'
        : 'another program changed the system proxy; Junction left its settings in place'
    })
  }
}
