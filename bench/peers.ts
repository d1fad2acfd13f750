/**
 * `npm run bench -- --only peers`: Junction side by side with bare proxy-chain, Squid, Privoxy and
 * going direct (issue 14), with one load generator, one origin and one pinning for all of them.
 *
 * Each round starts every proxy fresh in its own process on the proxy CPU (peers-processes.ts) and
 * reads their memory before any traffic; then, workload by workload, it measures every peer in turn
 * (the order reversed every other round), so the machine's drift over a round reaches every peer
 * alike and no two peers ever share a measurement slice. Ratios are taken within a round (to direct,
 * to Squid) and reported with their spread over the rounds. Around every measurement /proc/stat says
 * how much CPU went to processes outside the benchmark; above 10 % of the machine the figure is
 * flagged. `--smoke` runs every workload for about a second with small sizes: it proves the instrument
 * works (every peer starts and answers correctly) and its figures mean nothing.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { machineTicks, processTicks } from './cpu-usage.ts'
import {
  bulkTransfer,
  idleKeepAlive,
  idleTunnels,
  probe,
  tunnelChurn,
  wrkLoad,
  type Route
} from './peers-load.ts'
import { PEER_NOTES, PROXIES, startPeer, type PeerName, type ProxyPeer } from './peers-processes.ts'
import { pinSelfToLoadCpu, type Pinning } from './pinning.ts'
import { startChild, type Child, type LoadFigures } from './throughput.ts'

export interface PeersSizes {
  rounds: number
  /** Length of each throughput measurement. */
  seconds: number
  /** Uncounted HTTP and tunnel load on every peer at the start of a round (V8 warms up). */
  warmupSeconds: number
  httpConnections: number
  tunnelWorkers: number
  bulkOneBytes: number
  bulkEightBytes: number
  idleConnections: number
  idleSeconds: number
  tunnels: number
  /** Wait before reading memory: after start, with tunnels open. */
  settleMs: number
  /**
   * Wait after the tunnels closed: long enough for memory a process gives back once idle to be given
   * back (Junction collects after 10 s of a quiet event loop, memory-return.ts, and closing 5,000
   * tunnels keeps it busy for a second or two: 12 s was sometimes too short).
   */
  closedSettleMs: number
}

const MiB = 2 ** 20
export const FULL: PeersSizes = {
  rounds: 2,
  seconds: 5,
  warmupSeconds: 3,
  httpConnections: 64,
  tunnelWorkers: 32,
  bulkOneBytes: 1024 * MiB,
  bulkEightBytes: 256 * MiB,
  idleConnections: 5000,
  idleSeconds: 10,
  tunnels: 5000,
  settleMs: 2000,
  closedSettleMs: 20_000
}
export const SMOKE: PeersSizes = {
  rounds: 1,
  seconds: 1,
  warmupSeconds: 1,
  httpConnections: 64,
  tunnelWorkers: 32,
  bulkOneBytes: 32 * MiB,
  bulkEightBytes: 8 * MiB,
  idleConnections: 200,
  idleSeconds: 1,
  tunnels: 200,
  settleMs: 500,
  closedSettleMs: 500
}

/**
 * Every figure the benchmark reports. The proxy's CPU time per operation (read from /proc) moves far
 * less than throughput when other work shares the machine, so it is reported beside every rate.
 */
const METRICS = {
  http: { title: 'HTTP 1 KiB GETs, 64 keep-alive connections', unit: 'req/s' },
  httpCpu: { title: 'HTTP: proxy CPU per request', unit: 'µs' },
  tunnels: { title: 'CONNECT tunnels opened, 32 in flight', unit: 'tunnels/s' },
  tunnelsCpu: { title: 'CONNECT: proxy CPU per tunnel', unit: 'µs' },
  bulkOne: { title: 'CONNECT bulk, 1 stream', unit: 'MiB/s' },
  bulkOneCpu: { title: 'CONNECT bulk, 1 stream: proxy CPU per MiB', unit: 'µs' },
  bulkEight: { title: 'CONNECT bulk, 8 streams', unit: 'MiB/s' },
  bulkEightCpu: { title: 'CONNECT bulk, 8 streams: proxy CPU per MiB', unit: 'µs' },
  latencyP50: { title: 'sequential requests, one connection: latency p50', unit: 'µs' },
  latencyP99: { title: 'sequential requests, one connection: latency p99', unit: 'µs' },
  rssStart: { title: 'RSS before any traffic', unit: 'MiB' },
  processes: { title: 'processes', unit: '' },
  rssTunnels: { title: 'RSS with idle tunnels open', unit: 'MiB' },
  rssClosed: { title: 'RSS after the tunnels closed and the process idled', unit: 'MiB' },
  idleSurvived: { title: 'idle keep-alive connections still open', unit: 'connections' },
  idleRss: { title: 'RSS with the idle keep-alive connections', unit: 'MiB' }
} as const
export type Metric = keyof typeof METRICS

export interface Sample {
  round: number
  metric: Metric
  peer: PeerName
  value: number
  /** Failed operations by kind; a failure is never counted in `value`. */
  errors: Record<string, number>
  /** Share of the machine's CPU taken by processes outside the benchmark (0–1), null off Linux. */
  foreignCpuShare: number | null
}

export interface PeersReport {
  commit: string
  smoke: boolean
  sizes: PeersSizes
  pinning: string
  versions: Record<string, string>
  loadAverage: { before: string; after: string }
  samples: Sample[]
  targets: { target: string; figure: string; pass: boolean; suspect: boolean }[]
  seconds: number
}

const PEERS: PeerName[] = ['direct', ...PROXIES]
/** Above this share of the machine taken by other processes, a figure is flagged. */
const FOREIGN_LIMIT = 0.1

function run(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    // `wrk -v` exits 1 after printing its version.
    return (error as { stdout?: string }).stdout ?? ''
  }
}

function versions(): Record<string, string> {
  const firstLine = (text: string): string => text.split('\n')[0]!.trim()
  return {
    node: process.version,
    squid: firstLine(run('/usr/sbin/squid', ['-v'])),
    privoxy: firstLine(run('/usr/sbin/privoxy', ['--version'])),
    wrk: firstLine(run('/usr/bin/wrk', ['-v'])),
    'proxy-chain': (
      JSON.parse(
        readFileSync(new URL('../node_modules/proxy-chain/package.json', import.meta.url), 'utf8')
      ) as {
        version: string
      }
    ).version
  }
}

function commit(): string {
  const head = run('git', ['rev-parse', '--short', 'HEAD']).trim() || 'unknown'
  return run('git', ['status', '--porcelain', '--untracked-files=no']).trim() ? `${head} (modified)` : head
}

const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').trim()

/** CPU ticks used by the benchmark itself: this process, its exited children (wrk), proxies, origins. */
function ownTicks(pids: number[]): number {
  const self = readFileSync('/proc/self/stat', 'utf8')
  const fields = self.slice(self.lastIndexOf(')') + 2).split(' ')
  // utime, stime, cutime, cstime are fields 14–17; fields[0] is field 3.
  const selfTicks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0)
  return pids.reduce((sum, pid) => sum + (processTicks(pid) ?? 0), selfTicks)
}

/** Linux counts process CPU time in ticks of 1/100 s. */
const TICKS_PER_SECOND = 100

interface Watched<T> {
  result: T
  /** Share of the machine's CPU other processes took meanwhile (0–1); null off Linux. */
  foreign: number | null
  /** CPU seconds the proxy used meanwhile; null direct or off Linux. */
  proxySeconds: number | null
}

/** Runs `measure`, reading the CPU time of the benchmark's processes and of the whole machine around it. */
async function watched<T>(
  pids: number[],
  proxyPid: number | null,
  measure: () => Promise<T>
): Promise<Watched<T>> {
  const machineBefore = machineTicks()
  const ownBefore = ownTicks(pids)
  const proxyBefore = proxyPid === null ? null : processTicks(proxyPid)
  const result = await measure()
  const proxyAfter = proxyPid === null ? null : processTicks(proxyPid)
  const machineAfter = machineTicks()
  const proxySeconds =
    proxyBefore === null || proxyAfter === null ? null : (proxyAfter - proxyBefore) / TICKS_PER_SECOND
  if (!machineBefore || !machineAfter) return { result, foreign: null, proxySeconds }
  const total = machineAfter.total - machineBefore.total
  const foreign =
    Math.max(0, machineAfter.busy - machineBefore.busy - (ownTicks(pids) - ownBefore)) +
    machineAfter.steal -
    machineBefore.steal
  return { result, foreign: total > 0 ? foreign / total : 0, proxySeconds }
}

type Errors = Record<string, number>

function addErrors(into: Errors, from: Errors): void {
  for (const [kind, count] of Object.entries(from)) into[kind] = (into[kind] ?? 0) + count
}

interface Stage {
  pinning: Pinning
  origin: Child
  data: Child
  proxies: Map<PeerName, ProxyPeer>
  pids(): number[]
  route(peer: PeerName): Route
}

/** One round: fresh proxies, memory before traffic, warm-up, then every workload over every peer. */
async function runRound(
  round: number,
  order: PeerName[],
  stage: Stage,
  sizes: PeersSizes,
  record: (sample: Sample) => void,
  log: (line: string) => void
): Promise<void> {
  const proxiesInOrder = order.filter((peer): peer is Exclude<PeerName, 'direct'> => peer !== 'direct')
  try {
    for (const name of proxiesInOrder) stage.proxies.set(name, await startPeer(name, stage.pinning))
    await new Promise((resolve) => setTimeout(resolve, sizes.settleMs))
    for (const name of proxiesInOrder) {
      const memory = stage.proxies.get(name)!.memory()
      const base = { round, peer: name, errors: {}, foreignCpuShare: null }
      record({ ...base, metric: 'rssStart', value: memory.rssMiB })
      record({ ...base, metric: 'processes', value: memory.processes })
    }
    for (const peer of order) await probe(stage.route(peer))
    for (const peer of order) {
      await wrkLoad(stage.route(peer), sizes.warmupSeconds, sizes.httpConnections)
      await tunnelChurn(stage.route(peer), sizes.warmupSeconds, sizes.tunnelWorkers)
    }
    log(`  round ${round}: peers started, probed and warmed up (order: ${order.join(', ')})`)

    const proxyPid = (peer: PeerName): number | null => stage.proxies.get(peer)?.pid ?? null
    const show = (peer: PeerName, figures: Omit<Sample, 'round' | 'peer'>[]): void => {
      const values = figures.map((f) => `${fmt(f.value)} ${METRICS[f.metric].unit}`.trimEnd())
      const errors = Object.entries(figures[0]!.errors).map(([kind, n]) => `${kind}×${n}`)
      const foreign = figures[0]!.foreignCpuShare
      log(
        `  round ${round} ${figures
          .map((f) => f.metric)
          .join('/')
          .padEnd(24)} ${peer.padEnd(8)} ${values.join(', ')}` +
          (foreign === null ? '' : `, other work ${(foreign * 100).toFixed(0)}% CPU`) +
          (errors.length > 0 ? ` (errors: ${errors.join(', ')})` : '')
      )
    }
    const recordAll = (peer: PeerName, figures: Omit<Sample, 'round' | 'peer'>[]): void => {
      for (const figure of figures) record({ round, peer, ...figure })
      show(peer, figures)
    }

    // Rates in 1 s slices, the peers in turn and the order reversed every slice: a burst of other work
    // on the machine then lands on every peer alike, not on whichever was being measured at that moment.
    const sliced = async (
      metric: 'http' | 'tunnels',
      load: (route: Route) => Promise<LoadFigures>
    ): Promise<void> => {
      const totals = new Map(
        order.map((peer) => [peer, { ops: 0, seconds: 0, cpu: 0, foreign: 0, errors: {} as Errors }])
      )
      for (let slice = 0; slice < sizes.seconds; slice++)
        for (const peer of slice % 2 ? [...order].reverse() : order) {
          const w = await watched(stage.pids(), proxyPid(peer), () => load(stage.route(peer)))
          const total = totals.get(peer)!
          total.ops += w.result.completed
          total.seconds += w.result.seconds
          total.cpu += w.proxySeconds ?? NaN
          total.foreign += (w.foreign ?? NaN) / sizes.seconds
          addErrors(total.errors, w.result.errors)
        }
      for (const [peer, total] of totals) {
        const base = {
          errors: total.errors,
          foreignCpuShare: Number.isNaN(total.foreign) ? null : total.foreign
        }
        recordAll(peer, [
          { ...base, metric, value: total.ops / total.seconds },
          ...(proxyPid(peer) === null || Number.isNaN(total.cpu)
            ? []
            : [{ ...base, metric: `${metric}Cpu` as const, value: (total.cpu * 1e6) / total.ops }])
        ])
      }
    }
    await sliced('http', (route) => wrkLoad(route, 1, sizes.httpConnections))
    await sliced('tunnels', (route) => tunnelChurn(route, 1, sizes.tunnelWorkers))

    /** One measurement of `peer`; its figures share the errors and the CPU reading. */
    const measure = async (
      peer: PeerName,
      run: () => Promise<{ values: [Metric, number][]; errors: Errors; cpuPer?: [Metric, number] }>
    ): Promise<void> => {
      const w = await watched(stage.pids(), proxyPid(peer), run)
      const base = { errors: w.result.errors, foreignCpuShare: w.foreign }
      const cpu = w.result.cpuPer
      recordAll(peer, [
        ...w.result.values.map(([metric, value]) => ({ ...base, metric, value })),
        ...(cpu && w.proxySeconds !== null
          ? [{ ...base, metric: cpu[0], value: (w.proxySeconds * 1e6) / cpu[1] }]
          : [])
      ])
    }
    for (const [metric, streams, bytes] of [
      ['bulkOne', 1, sizes.bulkOneBytes],
      ['bulkEight', 8, sizes.bulkEightBytes]
    ] as const)
      for (const peer of order)
        await measure(peer, async () => {
          const f = await bulkTransfer(stage.route(peer), streams, bytes)
          return {
            values: [[metric, f.mibPerSecond]],
            errors: f.errors,
            cpuPer: [`${metric}Cpu`, f.bytes / MiB]
          }
        })
    for (const peer of order)
      await measure(peer, async () => {
        const f = await wrkLoad(stage.route(peer), sizes.seconds, 1)
        return {
          values: [
            ['latencyP50', f.p50Us],
            ['latencyP99', f.p99Us]
          ],
          errors: f.errors
        }
      })
    for (const name of proxiesInOrder) {
      const proxy = stage.proxies.get(name)!
      await measure(name, async () => {
        const memory = () => proxy.memory().rssMiB
        const f = await idleTunnels(
          proxy.port,
          stage.origin.port,
          sizes.tunnels,
          sizes.settleMs,
          sizes.closedSettleMs,
          memory
        )
        return {
          values: [
            ['rssTunnels', f.openRssMiB],
            ['rssClosed', f.closedRssMiB]
          ],
          errors: {}
        }
      })
    }
    for (const peer of order) {
      const proxy = stage.proxies.get(peer)
      await measure(peer, async () => {
        const memory = proxy ? () => proxy.memory().rssMiB : null
        const f = await idleKeepAlive(stage.route(peer), sizes.idleConnections, sizes.idleSeconds, memory)
        return {
          values: [
            ['idleSurvived', f.survived],
            ...(f.rssMiB === null ? [] : [['idleRss', f.rssMiB] as [Metric, number]])
          ],
          errors: {}
        }
      })
    }
  } catch (error) {
    await stopProxies(stage)
    throw error
  }
  // A peer that died during the round makes every figure after its death meaningless.
  const failed = (await stopProxies(stage)).find((s) => s.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
}

function stopProxies(stage: Stage): Promise<PromiseSettledResult<void>[]> {
  const proxies = [...stage.proxies.values()]
  stage.proxies.clear()
  return Promise.allSettled(proxies.map((proxy) => proxy.stop()))
}

// ---------------------------------------------------------------------------------------------------
// Report

const fmt = (n: number): string =>
  Math.abs(n) >= 100 || Number.isInteger(n)
    ? Math.round(n).toLocaleString('en-US')
    : n.toFixed(Math.abs(n) >= 10 ? 1 : 2)

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Per round `peer` ÷ `reference` (for latency: the latency each adds over going direct). */
function roundRatios(samples: Sample[], metric: Metric, peer: PeerName, reference: PeerName): number[] {
  const of = (p: PeerName) => samples.filter((s) => s.metric === metric && s.peer === p)
  const direct = of('direct')
  const added = (s: Sample): number => {
    if (!metric.startsWith('latency')) return s.value
    return s.value - (direct.find((d) => d.round === s.round)?.value ?? NaN)
  }
  return of(peer).flatMap((s) => {
    const ref = of(reference).find((r) => r.round === s.round)
    return ref ? [added(s) / added(ref)] : []
  })
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
  return rows
    .map((row) =>
      `  ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ')}`.trimEnd()
    )
    .join('\n')
}

const spread = (values: number[]): string =>
  values.length < 2 ? '' : `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`

function metricTable(samples: Sample[], metric: Metric): string | null {
  const info = METRICS[metric]
  const latency = metric.startsWith('latency')
  const rows = PEERS.flatMap((peer) => {
    const mine = samples.filter((s) => s.metric === metric && s.peer === peer)
    if (mine.length === 0) return []
    const values = mine.map((s) => s.value)
    const ratio = (reference: PeerName): string => {
      if (peer === reference || metric === 'processes' || (latency && peer === 'direct')) return ''
      const r = roundRatios(samples, metric, peer, reference)
      return r.length > 0 && r.every(Number.isFinite) ? `${median(r).toFixed(2)} ${spread(r)}`.trim() : ''
    }
    const flagged = mine
      .filter((s) => (s.foreignCpuShare ?? 0) > FOREIGN_LIMIT || Object.keys(s.errors).length > 0)
      .map((s) => `r${s.round}${Object.keys(s.errors).length > 0 ? ' errors' : ''}`)
    const added = peer === 'direct' ? '' : fmt(median(addedValues(samples, metric, peer)))
    return [
      [
        peer,
        fmt(median(values)),
        spread(values),
        latency ? added : ratio('direct'),
        ratio('squid'),
        flagged.join(' ')
      ]
    ]
  })
  if (rows.length === 0) return null
  const header = [
    `${info.title}${info.unit ? ` (${info.unit})` : ''}`,
    'median',
    'runs',
    latency ? 'added' : '× direct',
    latency ? 'added ÷ squid' : '× squid',
    'flagged'
  ]
  return table([header, ...rows])
}

/** Latency a peer adds over going direct, per round. */
function addedValues(samples: Sample[], metric: Metric, peer: PeerName): number[] {
  return samples
    .filter((s) => s.metric === metric && s.peer === peer)
    .map(
      (s) =>
        s.value -
        (samples.find((d) => d.metric === metric && d.peer === 'direct' && d.round === s.round)?.value ?? NaN)
    )
}

function evaluateTargets(samples: Sample[], sizes: PeersSizes): PeersReport['targets'] {
  const suspect = (metric: Metric): boolean =>
    samples.some(
      (s) =>
        s.metric === metric &&
        (s.peer === 'junction' || s.peer === 'squid') &&
        ((s.foreignCpuShare ?? 0) > FOREIGN_LIMIT || Object.keys(s.errors).length > 0)
    )
  const vs = (metric: Metric, reference: PeerName, label: string) => {
    const r = median(roundRatios(samples, metric, 'junction', reference))
    return {
      target: `Junction ${label} ≥ 1.0× ${reference}`,
      figure: `${r.toFixed(2)}×`,
      pass: r >= 1,
      suspect: suspect(metric)
    }
  }
  const value = (metric: Metric): number =>
    median(samples.filter((s) => s.metric === metric && s.peer === 'junction').map((s) => s.value))
  const junctionAdded = median(addedValues(samples, 'latencyP50', 'junction'))
  const squidAdded = median(addedValues(samples, 'latencyP50', 'squid'))
  const start = value('rssStart')
  const closed = value('rssClosed')
  const tunnels = sizes.tunnels.toLocaleString('en-US')
  return [
    vs('http', 'squid', 'HTTP req/s'),
    { ...vs('http', 'privoxy', 'HTTP req/s'), target: 'stretch: Junction HTTP req/s ≥ 1.0× privoxy' },
    {
      target: 'Junction added latency p50 ≤ squid',
      figure: `${fmt(junctionAdded)} µs vs ${fmt(squidAdded)} µs`,
      pass: junctionAdded <= squidAdded,
      suspect: suspect('latencyP50')
    },
    vs('tunnels', 'squid', 'CONNECT tunnels/s'),
    vs('bulkOne', 'squid', 'CONNECT MiB/s, 1 stream'),
    vs('bulkEight', 'squid', 'CONNECT MiB/s, 8 streams'),
    {
      target: 'headless mode is one process',
      figure: `${value('processes')}`,
      pass: value('processes') === 1,
      suspect: false
    },
    {
      target: 'Junction RSS before traffic ≤ 90 MiB',
      figure: `${fmt(start)} MiB`,
      pass: start <= 90,
      suspect: false
    },
    {
      target: `Junction RSS with ${tunnels} idle tunnels ≤ 150 MiB`,
      figure: `${fmt(value('rssTunnels'))} MiB`,
      pass: value('rssTunnels') <= 150,
      suspect: false
    },
    {
      target: 'Junction RSS after the tunnels close within 20% of the start',
      figure: `${fmt(closed)} MiB (${((closed / start - 1) * 100).toFixed(0)}%)`,
      pass: closed <= start * 1.2,
      suspect: false
    }
  ]
}

// ---------------------------------------------------------------------------------------------------

export async function measurePeers(smoke: boolean, log: (line: string) => void): Promise<PeersReport> {
  const sizes = smoke ? SMOKE : FULL
  const started = performance.now()
  const pinning = pinSelfToLoadCpu()
  const report: PeersReport = {
    commit: commit(),
    smoke,
    sizes,
    pinning: pinning.description,
    versions: versions(),
    loadAverage: { before: loadAverage(), after: '' },
    samples: [],
    targets: [],
    seconds: 0
  }
  log(
    `\nPeers${smoke ? ' (smoke: ~1 s per workload, small sizes; the figures mean nothing)' : ''}: ` +
      `commit ${report.commit}, ${sizes.rounds} round(s), ${pinning.description}`
  )
  for (const [name, version] of Object.entries(report.versions)) log(`  ${name}: ${version}`)
  for (const name of PROXIES) log(`  ${name}: ${PEER_NOTES[name]}`)
  log(`  load average before: ${report.loadAverage.before}`)

  const origin = await startChild('./origin-server.ts', [], 'origin child')
  const data = await startChild('./peers-data-origin.ts', [], 'data origin child').catch(
    async (error: unknown) => {
      await origin.stop()
      throw error
    }
  )
  const stage: Stage = {
    pinning,
    origin,
    data,
    proxies: new Map(),
    pids: () => [origin.pid, data.pid, ...[...stage.proxies.values()].map((p) => p.pid)],
    route: (peer) => ({
      proxyPort: peer === 'direct' ? null : stage.proxies.get(peer)!.port,
      originPort: origin.port,
      dataPort: data.port
    })
  }
  try {
    for (let round = 1; round <= sizes.rounds; round++) {
      const order = round % 2 ? PEERS : [...PEERS].reverse()
      await runRound(round, order, stage, sizes, (sample) => report.samples.push(sample), log)
    }
  } finally {
    await Promise.allSettled([origin.stop(), data.stop()])
  }
  report.loadAverage.after = loadAverage()
  report.seconds = (performance.now() - started) / 1000

  log(
    '\nSummary: rates as a share of direct, CPU as a multiple of squid (medians of the rounds); memory in MiB'
  )
  const summary: [string, Metric][] = [
    ['HTTP 1 KiB GETs, 64 connections', 'http'],
    ['CONNECT tunnels/s, 32 in flight', 'tunnels'],
    [`CONNECT bulk, 1 × ${sizes.bulkOneBytes / MiB} MiB`, 'bulkOne'],
    [`CONNECT bulk, 8 × ${sizes.bulkEightBytes / MiB} MiB`, 'bulkEight']
  ]
  const peersOnly = PROXIES as readonly PeerName[]
  log(
    table([
      ['workload', ...peersOnly],
      ...summary.map(([title, metric]) => [
        title,
        ...peersOnly.map((peer) => median(roundRatios(report.samples, metric, peer, 'direct')).toFixed(2))
      ]),
      [
        'added latency p50 (µs)',
        ...peersOnly.map((peer) => fmt(median(addedValues(report.samples, 'latencyP50', peer))))
      ],
      ...(
        [
          ['proxy CPU per request', 'httpCpu'],
          ['proxy CPU per tunnel', 'tunnelsCpu'],
          ['proxy CPU per MiB, 1 stream', 'bulkOneCpu'],
          ['proxy CPU per MiB, 8 streams', 'bulkEightCpu']
        ] as [string, Metric][]
      ).map(([title, metric]) => [
        `${title} (× squid)`,
        ...peersOnly.map((peer) => median(roundRatios(report.samples, metric, peer, 'squid')).toFixed(2))
      ]),
      ...(
        [
          ['RSS before any traffic', 'rssStart'],
          [`RSS with ${sizes.tunnels.toLocaleString('en-US')} idle tunnels`, 'rssTunnels'],
          ['RSS after they closed and it idled', 'rssClosed'],
          [
            `idle keep-alive survivors of ${sizes.idleConnections} after ${sizes.idleSeconds} s`,
            'idleSurvived'
          ]
        ] as [string, Metric][]
      ).map(([title, metric]) => [
        title,
        ...peersOnly.map((peer) =>
          fmt(
            median(report.samples.filter((s) => s.metric === metric && s.peer === peer).map((s) => s.value))
          )
        )
      ])
    ])
  )
  log(
    '\nDetails: median, each run, ratio within each round (median and range); flagged: rN = in round N other processes took > 10% of the CPU, or there were errors'
  )
  for (const metric of Object.keys(METRICS) as Metric[]) {
    const text = metricTable(report.samples, metric)
    if (text) log(`\n${text}`)
  }
  const flagged = report.samples.filter((s) => (s.foreignCpuShare ?? 0) > FOREIGN_LIMIT).length
  const measured = report.samples.filter((s) => s.foreignCpuShare !== null).length
  log(
    `\nNoise: ${flagged} of ${measured} measurements ran while other processes took > 10% of the machine's CPU; ` +
      `load average before ${report.loadAverage.before}, after ${report.loadAverage.after}`
  )
  report.targets = evaluateTargets(report.samples, sizes)
  return report
}
