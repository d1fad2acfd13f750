/**
 * Traffic history per host, per profile and per route (upstream id or `direct`): minute buckets for
 * the last 24 hours and day buckets (UTC) for the last 90 days, kept in `<data dir>/history.json`.
 *
 * Profiles and routes are few (they come from the user's configuration), but hosts are not: a browser
 * session touches hundreds. Each bucket keeps its busiest hosts by name and folds the rest into
 * `OTHER_HOSTS`, so the file stays bounded and per-host sums still add up to the total.
 *
 * The file is rewritten atomically on every flush (periodic and at shutdown), so a crash loses at most
 * the traffic since the last flush; an unusable file is reported and kept like any config file.
 */
import path from 'node:path'
import { z } from 'zod'
import type { HostTraffic } from '../../common/model.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { JsonFile } from '../config/json-file.ts'

export const HISTORY_FILE = 'history.json'
export const MINUTE = 60_000
export const DAY = 86_400_000
const MINUTES_KEPT = 24 * 60
const DAYS_KEPT = 90
/** Hosts kept by name in one bucket; the rest are summed under OTHER_HOSTS. */
export const HOSTS_PER_MINUTE = 50
export const HOSTS_PER_DAY = 500
/** Not a host name (a space and parentheses), so it cannot collide with one. */
export const OTHER_HOSTS = '(other hosts)'

export type HistoryKind = 'host' | 'profile' | 'route'
const PREFIX: Record<HistoryKind, string> = { host: 'h:', profile: 'p:', route: 'r:' }
const OTHER_KEY = PREFIX.host + OTHER_HOSTS

type Counter = [up: number, down: number]
type Bucket = Map<string, Counter>

const BucketsSchema = z.record(
  z.string().regex(/^\d+$/),
  z.record(z.string(), z.tuple([z.number(), z.number()]))
)
const DocSchema = z.object({ minutes: BucketsSchema, days: BucketsSchema })
type Doc = z.infer<typeof DocSchema>

export interface SeriesPoint {
  at: number
  up: number
  down: number
}

export interface Totals {
  name: string
  up: number
  down: number
}

/** Bytes per second over each step-long bucket, oldest first, for a chart. */
export interface RateSeries {
  step: number
  points: SeriesPoint[]
}

function count(counters: Map<string, Counter>, key: string, up: number, down: number): void {
  const counter = counters.get(key)
  if (counter) {
    counter[0] += up
    counter[1] += down
  } else counters.set(key, [up, down])
}

function add(buckets: Map<number, Bucket>, at: number, key: string, up: number, down: number): void {
  let bucket = buckets.get(at)
  if (!bucket) buckets.set(at, (bucket = new Map()))
  count(bucket, key, up, down)
}

function toDoc(buckets: Map<number, Bucket>): Doc['minutes'] {
  const out: Doc['minutes'] = {}
  for (const [at, bucket] of buckets) out[String(at)] = Object.fromEntries(bucket)
  return out
}

function fromDoc(doc: Doc['minutes']): Map<number, Bucket> {
  return new Map(
    Object.entries(doc).map(([at, bucket]) => [
      Number(at),
      new Map(Object.entries(bucket).map(([k, v]) => [k, [...v] as Counter]))
    ])
  )
}

/**
 * Folds all but the `keep` busiest hosts of a bucket into OTHER_HOSTS. Totals are unchanged; only
 * which host the smaller counts belong to is forgotten.
 */
function foldHosts(bucket: Bucket, keep: number): void {
  // Most buckets hold fewer keys than that, profiles and routes included: nothing to sort.
  if (bucket.size <= keep) return
  const hosts = [...bucket].filter(([key]) => key.startsWith(PREFIX.host) && key !== OTHER_KEY)
  if (hosts.length <= keep) return
  hosts.sort(([, a], [, b]) => b[0] + b[1] - (a[0] + a[1]))
  for (const [key, [up, down]] of hosts.slice(keep)) {
    bucket.delete(key)
    count(bucket, OTHER_KEY, up, down)
  }
}
export class HistoryStore {
  private readonly file: JsonFile<Doc> | null
  private minutes = new Map<number, Bucket>()
  private days = new Map<number, Bucket>()
  /** Bytes recorded in `pendingMinute` and not yet in the buckets: profile → route → host. */
  private readonly pending = new Map<string, Map<string, Map<string, Counter>>>()
  private pendingMinute = -1
  private timer: NodeJS.Timeout | null = null
  private readonly now: () => number

  constructor(file: JsonFile<Doc> | null, now: () => number = Date.now) {
    this.file = file
    this.now = now
  }

  /** Loads `<dataDir>/history.json`; `problem` says what was wrong with it if it could not be used. */
  static async open(
    dataDir: string,
    now: () => number = Date.now
  ): Promise<{ store: HistoryStore; problem: string | null }> {
    const file = new JsonFile<Doc>({
      path: path.join(dataDir, HISTORY_FILE),
      version: 1,
      defaults: () => ({ minutes: {}, days: {} }),
      parse: (data) => {
        const parsed = DocSchema.safeParse(data)
        return parsed.success
          ? ok({ value: parsed.data })
          : fail('invalid-input', parsed.error.issues[0]?.message ?? 'invalid history')
      }
    })
    const store = new HistoryStore(file, now)
    const loaded = await file.load()
    store.minutes = fromDoc(loaded.value.minutes)
    store.days = fromDoc(loaded.value.days)
    store.prune()
    return { store, problem: loaded.problem }
  }

  /**
   * Counts bytes for one host, profile and route at time `at`. This runs for every connection, so it
   * only adds to nested maps of the current minute: no key strings are built here (see settle).
   */
  record(at: number, host: string, profileId: string, route: string, up: number, down: number): void {
    const minute = at - (at % MINUTE)
    if (minute !== this.pendingMinute) {
      this.settle()
      this.foldFinished(minute)
      this.pendingMinute = minute
    }
    let routes = this.pending.get(profileId)
    if (!routes) this.pending.set(profileId, (routes = new Map()))
    let hosts = routes.get(route)
    if (!hosts) routes.set(route, (hosts = new Map()))
    count(hosts, host, up, down)
  }

  /** Moves what `record` gathered into the minute and day buckets; every read and flush starts here. */
  private settle(): void {
    if (this.pending.size === 0) return
    const minute = this.pendingMinute
    const day = minute - (minute % DAY)
    for (const [profileId, routes] of this.pending)
      for (const [route, hosts] of routes)
        for (const [host, [up, down]] of hosts)
          for (const key of [PREFIX.host + host, PREFIX.profile + profileId, PREFIX.route + route]) {
            add(this.minutes, minute, key, up, down)
            add(this.days, day, key, up, down)
          }
    this.pending.clear()
  }

  /**
   * Bounds the hosts of buckets before `minute`: a finished minute to its busiest HOSTS_PER_MINUTE, and
   * day buckets once they hold twice HOSTS_PER_DAY (folding the current day from time to time, not
   * every minute, keeps the cost of sorting it rare).
   */
  private foldFinished(minute: number): void {
    const finished = this.minutes.get(this.pendingMinute)
    if (finished && this.pendingMinute < minute) foldHosts(finished, HOSTS_PER_MINUTE)
    for (const bucket of this.days.values())
      if (bucket.size > 2 * HOSTS_PER_DAY) foldHosts(bucket, HOSTS_PER_DAY)
  }

  /**
   * Drops minute buckets older than 24 hours and day buckets older than 90 days, and bounds the hosts
   * of finished buckets (a file written before buckets were bounded is bounded on load).
   */
  prune(now = this.now()): void {
    this.settle()
    const minuteCutoff = now - (now % MINUTE) - MINUTES_KEPT * MINUTE
    const dayCutoff = now - (now % DAY) - DAYS_KEPT * DAY
    for (const [at, bucket] of this.minutes)
      if (at <= minuteCutoff) this.minutes.delete(at)
      else if (at + MINUTE <= now) foldHosts(bucket, HOSTS_PER_MINUTE)
    for (const [at, bucket] of this.days)
      if (at <= dayCutoff) this.days.delete(at)
      else if (at + DAY <= now || bucket.size > 2 * HOSTS_PER_DAY) foldHosts(bucket, HOSTS_PER_DAY)
  }

  /**
   * Minute buckets when the range starts within the last 24 hours, otherwise day buckets. A minute's
   * grace: "the last 24 hours" asked at `Date.now()` reaches here a few milliseconds later, and must
   * not turn into two day buckets.
   */
  private bucketsFor(from: number): { buckets: Map<number, Bucket>; step: number } {
    this.settle()
    return from >= this.now() - (MINUTES_KEPT + 1) * MINUTE
      ? { buckets: this.minutes, step: MINUTE }
      : { buckets: this.days, step: DAY }
  }

  totals(kind: HistoryKind, from: number, to: number): Totals[] {
    const { buckets, step } = this.bucketsFor(from)
    const prefix = PREFIX[kind]
    const sums = new Map<string, Counter>()
    for (const [at, bucket] of buckets) {
      if (at + step <= from || at >= to) continue
      for (const [key, [up, down]] of bucket) {
        if (!key.startsWith(prefix)) continue
        const sum = sums.get(key)
        if (sum) {
          sum[0] += up
          sum[1] += down
        } else sums.set(key, [up, down])
      }
    }
    return [...sums]
      .map(([key, [up, down]]) => ({ name: key.slice(prefix.length), up, down }))
      .sort((a, b) => b.up + b.down - (a.up + a.down) || a.name.localeCompare(b.name))
  }

  topHosts(from: number, to: number, limit: number): HostTraffic[] {
    return this.totals('host', from, to)
      .slice(0, limit)
      .map(({ name, up, down }) => ({ host: name, up, down }))
  }

  /** One point per bucket in range (empty buckets included) for a chart. */
  series(kind: HistoryKind, name: string, from: number, to: number): SeriesPoint[] {
    const { buckets, step } = this.bucketsFor(from)
    const key = PREFIX[kind] + name
    const points: SeriesPoint[] = []
    for (let at = from - (from % step); at < to; at += step) {
      const [up, down] = buckets.get(at)?.get(key) ?? [0, 0]
      points.push({ at, up, down })
    }
    return points
  }

  /**
   * Everything's rate, in bytes per second, for each `step` from `from` to `to` (minute buckets within
   * the last 24 hours, else day buckets). A bucket's rate is its bytes over its length, except the
   * bucket under way, whose bytes are spread over the time elapsed in it so far: spread over the whole
   * bucket they would show a falling rate that is not there.
   */
  rates(from: number, to: number): RateSeries {
    const { buckets, step } = this.bucketsFor(from)
    const now = this.now()
    const points: SeriesPoint[] = []
    for (let at = from - (from % step); at < to; at += step) {
      let up = 0
      let down = 0
      // Every byte is counted under exactly one profile, so their sum is the total.
      for (const [key, counter] of buckets.get(at) ?? [])
        if (key.startsWith(PREFIX.profile)) {
          up += counter[0]
          down += counter[1]
        }
      const seconds = Math.max(1, Math.min(step, now - at)) / 1000
      points.push({ at, up: up / seconds, down: down / seconds })
    }
    return { step, points }
  }

  /**
   * `bucket_start,resolution,kind,name,id,bytes_up,bytes_down`, one row per bucket and name. Profiles
   * and routes are kept by id; `nameOf` gives the name a person reads, and the id stays in its own
   * column for scripts (a rename changes the name, not the id). Hosts have no id.
   */
  toCsv(
    from: number,
    to: number,
    nameOf: (kind: 'profile' | 'route', id: string) => string = (_kind, id) => id
  ): string {
    const { buckets, step } = this.bucketsFor(from)
    const resolution = step === MINUTE ? 'minute' : 'day'
    const kinds = Object.entries(PREFIX) as [HistoryKind, string][]
    const rows = ['bucket_start,resolution,kind,name,id,bytes_up,bytes_down']
    for (const at of [...buckets.keys()].sort((a, b) => a - b)) {
      if (at + step <= from || at >= to) continue
      for (const [key, [up, down]] of buckets.get(at)!) {
        const [kind] = kinds.find(([, prefix]) => key.startsWith(prefix))!
        const id = key.slice(2)
        const [name, idColumn] = kind === 'host' ? [id, ''] : [nameOf(kind, id), id]
        rows.push(
          [new Date(at).toISOString(), resolution, kind, csvField(name), csvField(idColumn), up, down].join(
            ','
          )
        )
      }
    }
    return `${rows.join('\n')}\n`
  }

  async flush(): Promise<Result<void>> {
    if (!this.file) return ok(undefined)
    this.prune()
    return this.file.save({ minutes: toDoc(this.minutes), days: toDoc(this.days) })
  }

  /**
   * Flushes every `intervalMs` until `stop()`; flushing goes on after an error. An error goes to
   * `onError` when it first happens, not again every interval (an unwritable data directory would
   * otherwise repeat it four times a minute), and again only after a flush succeeded in between.
   */
  startAutoFlush(intervalMs: number, onError: (message: string) => void): void {
    let reported: string | null = null
    this.timer = setInterval(() => {
      void this.flush().then((r) => {
        if (r.ok) reported = null
        else if (r.error.message !== reported) onError((reported = r.error.message))
      })
    }, intervalMs)
    this.timer.unref()
  }

  async stop(): Promise<Result<void>> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    return this.flush()
  }
}

/** Quotes a CSV field when it holds a comma, quote or line break (RFC 4180). */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}
