/**
 * Traffic history per host, per profile and per route (upstream id or `direct`): minute buckets for
 * the last 24 hours and day buckets (UTC) for the last 90 days, kept in `<data dir>/history.json`.
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

export type HistoryKind = 'host' | 'profile' | 'route'
const PREFIX: Record<HistoryKind, string> = { host: 'h:', profile: 'p:', route: 'r:' }

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

  /** Drops minute buckets older than 24 hours and day buckets older than 90 days. */
  prune(now = this.now()): void {
    this.settle()
    const minuteCutoff = now - (now % MINUTE) - MINUTES_KEPT * MINUTE
    const dayCutoff = now - (now % DAY) - DAYS_KEPT * DAY
    for (const at of this.minutes.keys()) if (at <= minuteCutoff) this.minutes.delete(at)
    for (const at of this.days.keys()) if (at <= dayCutoff) this.days.delete(at)
  }

  /** Minute buckets when the range starts within the last 24 hours, otherwise day buckets. */
  private bucketsFor(from: number): { buckets: Map<number, Bucket>; step: number } {
    this.settle()
    return from >= this.now() - MINUTES_KEPT * MINUTE
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
