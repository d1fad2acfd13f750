/**
 * Passive health of the upstreams groups route to, learned from the traffic itself: no background
 * probing while nothing is sent (Clash probes every member all the time; Junction stays quiet).
 *
 * A member that refuses, times out or fails its handshake is marked down for a back-off that starts
 * at `initialMs` and doubles with each further failure up to `maxMs`; the first success resets it.
 * Failures reported while a member is already down do not stretch its back-off: fifty requests that
 * failed together count once. Latencies come from measurements (a group's own, lowest-latency, or
 * the Profiles view's "Test all"), never from traffic, whose timings say more about targets.
 *
 * Kept per active profile by the engine, across profile edits: an upstream whose address changed
 * starts afresh.
 */
import type { Upstream } from '../../common/model.ts'
import { hostPort } from './host.ts'

export interface Backoff {
  initialMs: number
  maxMs: number
}

/** 5 s doubling to 5 min, as the issue asks: a dead member costs one attempt per back-off at most. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 5_000, maxMs: 300_000 }

/** What is known about one upstream. */
export interface MemberHealth {
  /** Failures since the last success; 0 while up. */
  failures: number
  /** Until when (epoch ms) the member is skipped while others are up; 0 when up. */
  downUntil: number
  lastError: string | null
  lastErrorAt: number | null
  latencyMs: number | null
  measuredAt: number | null
  /** When the member last carried something (epoch ms); null when it never has. */
  answeredAt: number | null
}

/** One measurement: a latency, or why there is none. */
export interface Measurement {
  latencyMs: number | null
  error: string | null
}

/**
 * Measures one upstream: a real request through it to `url` (main/services/upstream-test.ts).
 * `companions` are the other upstreams of its profile, which a chained upstream (`via`) is reached by.
 */
export type LatencyProbe = (
  upstream: Upstream,
  url: string,
  companions: readonly Upstream[]
) => Promise<Measurement>

const UNKNOWN: Readonly<MemberHealth> = Object.freeze({
  failures: 0,
  downUntil: 0,
  lastError: null,
  lastErrorAt: null,
  latencyMs: null,
  measuredAt: null,
  answeredAt: null
})

/** At most this many measurements run at once, so "Test all" on 30 upstreams stays gentle. */
export const MEASURE_CONCURRENCY = 4

export class UpstreamHealth {
  private readonly backoff: Backoff
  private readonly now: () => number
  private readonly entries = new Map<string, MemberHealth & { address: string }>()
  /** When each group last started measuring its members, by group id. */
  private readonly measuredGroups = new Map<string, number>()

  constructor(backoff: Backoff = DEFAULT_BACKOFF, now: () => number = Date.now) {
    this.backoff = backoff
    this.now = now
  }

  get(upstreamId: string): Readonly<MemberHealth> {
    return this.entries.get(upstreamId) ?? UNKNOWN
  }

  isUp(upstreamId: string): boolean {
    return (this.entries.get(upstreamId)?.downUntil ?? 0) <= this.now()
  }

  /** The member failed on its own account (refused, timed out, failed its handshake). */
  failed(upstream: Upstream, error: string): void {
    const entry = this.entry(upstream)
    const now = this.now()
    entry.lastError = error
    entry.lastErrorAt = now
    if (entry.downUntil > now) return
    entry.failures++
    const wait = Math.min(this.backoff.initialMs * 2 ** (entry.failures - 1), this.backoff.maxMs)
    entry.downUntil = now + wait
  }

  /** The member carried a request or tunnel: it is up, its back-off starts over. */
  succeeded(upstream: Upstream): void {
    const entry = this.entry(upstream)
    entry.answeredAt = this.now()
    entry.failures = 0
    entry.downUntil = 0
  }

  /** Whether the member carried something within the last `withinMs`. */
  answeredWithin(upstreamId: string, withinMs: number): boolean {
    const at = this.entries.get(upstreamId)?.answeredAt
    return at !== null && at !== undefined && this.now() - at <= withinMs
  }

  measured(upstream: Upstream, result: Measurement): void {
    const entry = this.entry(upstream)
    entry.latencyMs = result.latencyMs
    entry.measuredAt = this.now()
    if (result.error !== null) {
      entry.lastError = result.error
      entry.lastErrorAt = entry.measuredAt
    }
  }

  /**
   * Whether a group that carries traffic now should measure its members again: the first time, then at
   * most every `intervalMs`. Claims the slot, so concurrent requests start one measurement.
   */
  claimMeasurement(groupId: string, intervalMs: number): boolean {
    const now = this.now()
    const last = this.measuredGroups.get(groupId)
    if (last !== undefined && now - last < intervalMs) return false
    this.measuredGroups.set(groupId, now)
    return true
  }

  /** Forgets upstreams a profile no longer has, or whose address changed (a fixed typo starts up). */
  keepOnly(upstreams: readonly Upstream[]): void {
    const current = new Map(upstreams.map((u) => [u.id, addressOf(u)]))
    for (const [id, entry] of this.entries) if (current.get(id) !== entry.address) this.entries.delete(id)
  }

  private entry(upstream: Upstream): MemberHealth & { address: string } {
    let entry = this.entries.get(upstream.id)
    if (!entry) this.entries.set(upstream.id, (entry = { ...UNKNOWN, address: addressOf(upstream) }))
    return entry
  }
}

function addressOf(upstream: Upstream): string {
  return `${upstream.scheme}://${hostPort(upstream.host, upstream.port)} via ${upstream.via ?? ''}`
}

/**
 * Measures `upstreams` through `probe`, at most MEASURE_CONCURRENCY at once; each result is handed to
 * `done` as it comes. A probe that throws counts as a failed measurement.
 */
export async function measureAll(
  upstreams: readonly Upstream[],
  companions: readonly Upstream[],
  url: string,
  probe: LatencyProbe,
  done: (upstream: Upstream, result: Measurement) => void
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < upstreams.length) {
      const upstream = upstreams[next++]!
      let result: Measurement
      try {
        result = await probe(upstream, url, companions)
      } catch (error) {
        result = { latencyMs: null, error: (error as Error).message }
      }
      done(upstream, result)
    }
  }
  await Promise.all(Array.from({ length: Math.min(MEASURE_CONCURRENCY, upstreams.length) }, worker))
}
