import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  DAY,
  HistoryStore,
  HOSTS_PER_DAY,
  HOSTS_PER_MINUTE,
  MINUTE,
  OTHER_HOSTS
} from '../../../main/stats/history-store.ts'

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0)
let now = T0
const clock = () => now

let dir: string
beforeEach(async () => {
  now = T0
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-history-'))
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

describe('HistoryStore', () => {
  it('sums per host, profile and route into minute and day buckets', () => {
    const h = new HistoryStore(null, clock)
    h.record(T0 + 1_000, 'a.test', 'work', 'corp', 100, 1000)
    h.record(T0 + 30_000, 'a.test', 'work', 'direct', 10, 20)
    h.record(T0 + MINUTE + 5, 'b.test', 'home', 'direct', 1, 2)
    now = T0 + 2 * MINUTE
    expect(h.topHosts(T0, now, 10)).toEqual([
      { host: 'a.test', up: 110, down: 1020 },
      { host: 'b.test', up: 1, down: 2 }
    ])
    expect(h.totals('profile', T0, now)).toEqual([
      { name: 'work', up: 110, down: 1020 },
      { name: 'home', up: 1, down: 2 }
    ])
    expect(h.totals('route', T0, now)).toEqual([
      { name: 'corp', up: 100, down: 1000 },
      { name: 'direct', up: 11, down: 22 }
    ])
    expect(h.series('host', 'a.test', T0, T0 + 3 * MINUTE)).toEqual([
      { at: T0, up: 110, down: 1020 },
      { at: T0 + MINUTE, up: 0, down: 0 },
      { at: T0 + 2 * MINUTE, up: 0, down: 0 }
    ])
    // Only the second minute is in range.
    expect(h.topHosts(T0 + MINUTE, now, 10)).toEqual([{ host: 'b.test', up: 1, down: 2 }])
  })

  it('answers ranges older than 24 hours from day buckets and forgets what is past keeping', () => {
    const h = new HistoryStore(null, clock)
    h.record(T0 - 3 * DAY, 'old.test', 'p', 'direct', 5, 5)
    h.record(T0, 'new.test', 'p', 'direct', 1, 1)
    now = T0 + 2 * DAY
    expect(h.topHosts(T0 - 10 * DAY, now, 5).map((x) => x.host)).toEqual(['old.test', 'new.test'])
    // Minute buckets of T0 are past 24 hours now.
    expect(h.topHosts(now - DAY, now, 5)).toEqual([])
    now = T0 + 95 * DAY
    h.prune()
    expect(h.topHosts(T0 - 10 * DAY, now, 5)).toEqual([])
  })

  it('exports CSV with quoting, names for people and ids for scripts', () => {
    const h = new HistoryStore(null, clock)
    h.record(T0, 'we,ird"host', 'p', 'direct', 3, 4)
    h.record(T0, 'b.test', 'p', 'u-1', 5, 6)
    const names = (kind: 'profile' | 'route', id: string): string =>
      kind === 'profile' ? 'Work, "main"' : id === 'u-1' ? 'Squid' : id
    expect(h.toCsv(T0, T0 + MINUTE, names)).toBe(
      [
        'bucket_start,resolution,kind,name,id,bytes_up,bytes_down',
        '2026-11-22T12:00:00.000Z,minute,host,"we,ird""host",,3,4',
        '2026-11-22T12:00:00.000Z,minute,profile,"Work, ""main""",p,8,10',
        '2026-11-22T12:00:00.000Z,minute,route,direct,direct,3,4',
        '2026-11-22T12:00:00.000Z,minute,host,b.test,,5,6',
        '2026-11-22T12:00:00.000Z,minute,route,Squid,u-1,5,6',
        ''
      ].join('\n')
    )
    // Without names (no profiles at hand), the id is the name.
    expect(h.toCsv(T0, T0 + MINUTE).split('\n')[2]).toBe('2026-11-22T12:00:00.000Z,minute,profile,p,p,8,10')
  })

  it('persists atomically and loads back', async () => {
    const { store } = await HistoryStore.open(dir, clock)
    store.record(T0, 'a.test', 'p', 'direct', 7, 9)
    expect((await store.flush()).ok).toBe(true)
    const reopened = await HistoryStore.open(dir, clock)
    expect(reopened.problem).toBeNull()
    expect(reopened.store.topHosts(T0, T0 + MINUTE, 1)).toEqual([{ host: 'a.test', up: 7, down: 9 }])
    expect(await fs.readdir(dir)).toEqual(['history.json'])
  })

  it('keeps a corrupt history file, starts empty, and copies it aside before the first flush', async () => {
    const corrupt = '{"version":1,"minutes":{"x":1}'
    await fs.writeFile(path.join(dir, 'history.json'), corrupt)
    const { store, problem } = await HistoryStore.open(dir, clock)
    expect(problem).toMatch(/history\.json is not valid JSON.*the file was left as it is/)
    expect(store.topHosts(0, now, 5)).toEqual([])
    expect(await fs.readdir(dir)).toEqual(['history.json'])
    expect((await store.flush()).ok).toBe(true)
    const copy = (await fs.readdir(dir)).find((f) => f.startsWith('history.json.corrupt-'))
    expect(await fs.readFile(path.join(dir, copy!), 'utf8')).toBe(corrupt)
    await fs.writeFile(
      path.join(dir, 'history.json'),
      JSON.stringify({ version: 1, minutes: { abc: {} }, days: {} })
    )
    const second = await HistoryStore.open(dir, clock)
    expect(second.problem).toMatch(/history\.json is invalid/)
  })

  it('gives total rates per minute, the minute under way over its elapsed seconds, gaps as zero', () => {
    const h = new HistoryStore(null, clock)
    // Two profiles in the first minute: the total is their sum, counted once (not per host or route).
    h.record(T0 + 1_000, 'a.test', 'work', 'corp', 600, 6_000)
    h.record(T0 + 2_000, 'b.test', 'home', 'direct', 60, 0)
    h.record(T0 + 2 * MINUTE + 1_000, 'a.test', 'work', 'corp', 0, 3_000)
    now = T0 + 2 * MINUTE + 15_000
    const { step, points } = h.rates(T0, now)
    expect(step).toBe(MINUTE)
    expect(points).toEqual([
      { at: T0, up: 11, down: 100 },
      { at: T0 + MINUTE, up: 0, down: 0 },
      // 3,000 bytes in the 15 s of this minute so far: 200 B/s, not 50.
      { at: T0 + 2 * MINUTE, up: 0, down: 200 }
    ])
    // "The last 24 hours" asked a few milliseconds ago is still answered per minute.
    expect(h.rates(now - DAY - 5, now).step).toBe(MINUTE)
    // Older than 24 hours: day buckets, a day's bytes over a day.
    now = T0 + 3 * DAY
    const days = h.rates(T0 - DAY, now)
    expect(days.step).toBe(DAY)
    expect(days.points[1]).toEqual({ at: T0 - (T0 % DAY), up: 660 / 86_400, down: 9_000 / 86_400 })
  })

  it('keeps the busiest hosts of a finished minute by name and sums the rest as other hosts', () => {
    const h = new HistoryStore(null, clock)
    const hosts = HOSTS_PER_MINUTE + 30
    // Host i sends i + 1 bytes: the busiest are the last ones.
    for (let i = 0; i < hosts; i++) h.record(T0 + i, `h${i}.test`, 'p', 'direct', i + 1, 0)
    // Still under way: nothing is folded yet.
    expect(h.totals('host', T0, T0 + MINUTE)).toHaveLength(hosts)
    h.record(T0 + MINUTE, 'next.test', 'p', 'direct', 1, 0)
    const shares = h.totals('host', T0, T0 + MINUTE)
    expect(shares).toHaveLength(HOSTS_PER_MINUTE + 1)
    expect(shares[0]).toEqual({ name: OTHER_HOSTS, up: (30 * 31) / 2, down: 0 })
    expect(shares.find((s) => s.name === 'h29.test')).toBeUndefined()
    expect(shares.find((s) => s.name === 'h30.test')).toEqual({ name: 'h30.test', up: 31, down: 0 })
    // Nothing is lost: hosts still sum to the profile's total.
    const sum = shares.reduce((a, s) => a + s.up, 0)
    expect(sum).toBe((hosts * (hosts + 1)) / 2)
    expect(h.totals('profile', T0, T0 + MINUTE)[0]!.up).toBe(sum)
  })

  it('bounds the hosts of day buckets and of a file written before buckets were bounded', async () => {
    const hosts = 2 * HOSTS_PER_DAY + 10
    const minute: Record<string, [number, number]> = { 'p:p': [hosts, 0] }
    for (let i = 0; i < hosts; i++) minute[`h:h${i}.test`] = [1, 0]
    const day = T0 - (T0 % DAY)
    await fs.writeFile(
      path.join(dir, 'history.json'),
      JSON.stringify({ version: 1, minutes: { [T0 - MINUTE]: minute }, days: { [day]: minute } })
    )
    const { store, problem } = await HistoryStore.open(dir, clock)
    expect(problem).toBeNull()
    const inMinute = store.totals('host', T0 - MINUTE, T0)
    expect(inMinute).toHaveLength(HOSTS_PER_MINUTE + 1)
    expect(inMinute.reduce((a, s) => a + s.up, 0)).toBe(hosts)
    // The day under way is folded once it holds twice its bound.
    now = T0 + 2 * DAY
    const inDay = store.totals('host', day, day + DAY)
    expect(inDay).toHaveLength(HOSTS_PER_DAY + 1)
    expect(inDay.find((s) => s.name === OTHER_HOSTS)?.up).toBe(hosts - HOSTS_PER_DAY)
  })
})
