/**
 * `npm run bench`: rule lookup latency at 1,000 and 100,000 rules, and the switch to a 100,000-rule
 * profile; HTTP requests/s and CONNECT tunnels/s through the engine (1,000 rules) against bare
 * proxy-chain, and with statistics and logging on against off; proxy memory with 5,000 open tunnels,
 * statistics on and off. One run, one machine.
 * Prints the figures with the targets and PASS/MISS, and writes everything to bench/results/latest.json.
 *
 * A missed target is a finding, not a failure: the exit code is non-zero only if the benchmark itself
 * could not run (a child failed to start, traffic was not proxied …).
 *
 * Engine vs bare proxy-chain runs each in its own process, in rounds: --pairs N (fresh process pairs
 * per workload, default 4), --rounds N (measured rounds per variant and pair, default 6), --seconds S
 * (per round, default 1). Statistics on vs off (and the noise floor) run both engines in one process
 * with the load switching between them every 100 ms (see interleaved.ts): --processes N (fresh
 * processes per workload, default 3), --interleave S (measured seconds per process, default 60).
 * Shared: --warmup S (uncounted load on each new proxy process, default 5), --connections N
 * (default 20), --only PARTS (a comma list of lookup, http, connect, stats, memory, noise; default all
 * but noise).
 *
 * `--only peers` measures Junction beside bare proxy-chain, Squid, Privoxy and going direct (peers.ts,
 * about 10 minutes); `--smoke` runs it for about a second per workload, to prove the instrument works.
 *
 * `node bench/profile.ts http|connect` shows where the engine's extra CPU goes.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { measureLookups, type LookupFigures } from './rule-lookup.ts'
import { measureProfileSwitch, type SwitchFigures } from './profile-switch.ts'
import { measureMemory, type MemoryFigures } from './memory.ts'
import { measureHeadlessRss, type HeadlessRss } from './headless-rss.ts'
import { measureStreamingMemory, type StreamingMemory } from './streaming-memory.ts'
import { measureInterception, type InterceptionFigures } from './interception.ts'
import { PREVIOUS_COMMIT, previousTree } from './previous-engine.ts'
import { ENGINE_RULES } from './child-common.ts'
import { measureInterleaved, SLICE_MS, type InterleavedWorkload } from './interleaved.ts'
import { measurePeers, type PeersReport } from './peers.ts'
import {
  DEFAULT_THROUGHPUT,
  type Comparison,
  killAllChildren,
  measureThroughput,
  type ThroughputFigures,
  type ThroughputOptions,
  type Workload,
  type WorkloadFigures
} from './throughput.ts'

const LOOKUP_RULE_COUNTS = [1000, 100_000]
const LOOKUP_P50_TARGET_NS = 2000
const RATIO_TARGET = 0.95
const STATS_RATIO_TARGET = 0.97
const MEMORY_RATIO_TARGET = 1.2
const MEMORY_CONNECTIONS = 5000
/** Issue 14: headless mode's resident memory before any traffic. */
const HEADLESS_IDLE_MIB = 90
const STREAMING_GROWTH_MIB = 64
const DEFAULT_INTERLEAVED = { processes: 3, seconds: 60 }
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url))

interface TargetResult {
  target: string
  figure: string
  pass: boolean
  /** Set when errors during the measurement make the figure untrustworthy. */
  suspect: boolean
}

/**
 * lookup: rule lookups and the profile switch; http/connect: engine vs bare proxy-chain; stats: statistics on vs off; memory;
 * noise: the engine against itself, i.e. how far the ratios move when nothing differs; pipeline: this
 * engine against the one before the request pipeline, both with statistics and logging on; headless:
 * headless mode's baseline memory, this tree against the previous one; streaming: the engine's memory
 * while 1 GiB goes up and 1 GiB down; intercept: TLS handshakes and requests through an intercepted
 * host against a tunnelled one, and leaf issuance; peers: Junction beside Squid, Privoxy, bare
 * proxy-chain and direct (the last six not in the default set).
 */
const PARTS = [
  'lookup',
  'http',
  'connect',
  'stats',
  'memory',
  'noise',
  'pipeline',
  'headless',
  'streaming',
  'intercept',
  'peers'
] as const
const DEFAULT_PARTS = PARTS.filter((part) => ['lookup', 'http', 'connect', 'stats', 'memory'].includes(part))

function parseOptions(argv: string[]): ThroughputOptions & {
  processes: number
  interleaveSeconds: number
  lookup: boolean
  workloads: Workload[]
  stats: boolean
  memory: boolean
  noise: boolean
  pipeline: boolean
  headless: boolean
  streaming: boolean
  intercept: boolean
  peers: boolean
  smoke: boolean
} {
  const { values } = parseArgs({
    args: argv,
    options: {
      pairs: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      processes: { type: 'string' },
      interleave: { type: 'string' },
      only: { type: 'string' },
      smoke: { type: 'boolean' }
    },
    strict: true
  })
  const number = (name: string, value: string | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback
    const parsed = Number(value)
    if (!Number.isFinite(parsed) || parsed < min) throw new Error(`--${name} must be a number ≥ ${min}`)
    return parsed
  }
  const only = values.only?.split(',').map((part) => part.trim()) ?? [...DEFAULT_PARTS]
  for (const part of only)
    if (!(PARTS as readonly string[]).includes(part))
      throw new Error(`--only takes a comma list of ${PARTS.join(', ')} (was "${part}")`)
  return {
    pairs: Math.round(number('pairs', values.pairs, DEFAULT_THROUGHPUT.pairs, 1)),
    rounds: Math.round(number('rounds', values.rounds, DEFAULT_THROUGHPUT.rounds, 1)),
    seconds: number('seconds', values.seconds, DEFAULT_THROUGHPUT.seconds, 0.5),
    warmupSeconds: number('warmup', values.warmup, DEFAULT_THROUGHPUT.warmupSeconds, 0),
    connections: Math.round(number('connections', values.connections, DEFAULT_THROUGHPUT.connections, 1)),
    processes: Math.round(number('processes', values.processes, DEFAULT_INTERLEAVED.processes, 1)),
    interleaveSeconds: number('interleave', values.interleave, DEFAULT_INTERLEAVED.seconds, 1),
    lookup: only.includes('lookup'),
    workloads: (['http', 'connect'] as const).filter((w) => only.includes(w)),
    stats: only.includes('stats'),
    memory: only.includes('memory'),
    noise: only.includes('noise'),
    pipeline: only.includes('pipeline'),
    headless: only.includes('headless'),
    streaming: only.includes('streaming'),
    intercept: only.includes('intercept'),
    peers: only.includes('peers'),
    smoke: values.smoke ?? false
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
// Truncated, not rounded, so that a ratio just below the target never prints as the target.
const ratio = (n: number): string => (Math.floor(n * 1000) / 1000).toFixed(3)
const ns = (n: number): string => `${int(n)} ns`
/** The middle half of the round ratios, e.g. `0.95–1.03`. */
function quartiles(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number): string => sorted[Math.floor(q * (sorted.length - 1))]!.toFixed(2)
  return `${at(0.25)}–${at(0.75)}`
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('   ')
        .trimEnd()
    )
    .map((line) => `  ${line}`)
    .join('\n')
}

function lookupTable(lookups: LookupFigures[]): string {
  return table([
    ['rules', 'compile', 'p50', 'p99', 'mean'],
    ...lookups.map((l) => [
      int(l.rules),
      `${l.compileMs.toFixed(1)} ms`,
      ns(l.p50ns),
      ns(l.p99ns),
      ns(l.meanNs)
    ])
  ])
}

function switchSummary(f: SwitchFigures): string {
  const spread = (values: number[]): string =>
    `${median(values).toFixed(0)} ms (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`
  return [
    `\nProfile switch, headless Junction, through the service (median and range of ${f.toLargeMs.length}):`,
    `  to ${int(f.rules)} rules          ${spread(f.toLargeMs)}; event loop blocked at most ${spread(f.blockedMs)}`,
    `  back to ${int(f.smallRules)} rules        ${spread(f.toSmallMs)}`
  ].join('\n')
}

/** The workloads that ran, with their display names. */
function ran(t: ThroughputFigures): { name: string; op: string; unit: string; w: WorkloadFigures }[] {
  const all = [
    { name: 'HTTP', op: 'request', w: t.http },
    { name: 'CONNECT', op: 'tunnel', w: t.connect },
    { name: 'CONNECT data', op: 'MiB', w: t.connectBulk }
  ]
  return all.flatMap(({ name, op, w }) => (w ? [{ name, op, unit: w.unit, w }] : []))
}

function throughputTable(t: ThroughputFigures): string {
  const { baseline, candidate } = t.comparison
  return table([
    [
      'workload',
      `${baseline} (median)`,
      `${candidate} (median)`,
      'ratio of medians',
      'round ratios: quartiles',
      'median round ratio'
    ],
    ...ran(t).map(({ name, unit, w }) => [
      `${name} ${unit}`,
      int(w.baseline.median),
      int(w.candidate.median),
      ratio(w.ratioOfMedians),
      quartiles(w.roundRatios),
      ratio(w.ratio)
    ])
  ])
}

function cpuTable(t: ThroughputFigures): string | null {
  const workloads = ran(t)
  if (workloads.some(({ w }) => w.cpuRatio === null)) return null
  const { baseline, candidate } = t.comparison
  return table([
    ['proxy CPU time', `${baseline} (median)`, `${candidate} (median)`, 'ratio'],
    ...workloads.map(({ name, op, w }) => [
      `${name} µs/${op}`,
      w.baseline.medianCpuUsPerOp!.toFixed(1),
      w.candidate.medianCpuUsPerOp!.toFixed(1),
      ratio(w.cpuRatio!)
    ])
  ])
}

function memoryTable(figures: MemoryFigures[]): string {
  return table([
    ['variant', 'connections', 'idle RSS', 'loaded RSS', 'per connection'],
    ...figures.map((m) => [
      m.variant,
      int(m.connections),
      `${m.idleRssMiB.toFixed(1)} MiB`,
      `${m.loadedRssMiB.toFixed(1)} MiB`,
      `${m.perConnectionKiB.toFixed(1)} KiB`
    ])
  ])
}

function ratioTargets(t: ThroughputFigures | null, label: string, target: number): TargetResult[] {
  if (!t) return []
  return ran(t).map(({ name, w }) => ({
    target: `${name}: ${label} ≥ ${target}×`,
    figure: `${ratio(w.ratio)}×`,
    pass: w.ratio >= target,
    suspect: w.suspect.length > 0
  }))
}

const INTERLEAVED_NAMES: Record<Workload, string> = {
  http: 'HTTP',
  connect: 'CONNECT',
  'connect-bulk': 'CONNECT data'
}

function interleavedTable(results: InterleavedWorkload[]): string {
  const { baseline, candidate } = results[0]!.comparison
  return table([
    [
      'workload',
      baseline,
      candidate,
      'ratio',
      '± 2 SE',
      'per process',
      `proxy CPU/op ${candidate} ÷ ${baseline}`
    ],
    ...results.map((w) => [
      `${INTERLEAVED_NAMES[w.workload]} ${w.unit}`,
      int(w.baseline.perSecond),
      int(w.candidate.perSecond),
      ratio(w.ratio),
      (2 * w.standardError).toFixed(3),
      w.processRatios.map((r) => r.toFixed(3)).join(' '),
      w.baseline.cpuUsPerOp && w.candidate.cpuUsPerOp
        ? `${w.candidate.cpuUsPerOp.toFixed(1)} / ${w.baseline.cpuUsPerOp.toFixed(1)} µs = ${ratio(w.candidate.cpuUsPerOp / w.baseline.cpuUsPerOp)}`
        : 'n/a'
    ])
  ])
}

function evaluate(
  lookups: LookupFigures[],
  engineVsBare: ThroughputFigures | null,
  statsOnOff: InterleavedWorkload[] | null,
  memory: MemoryFigures[]
): TargetResult[] {
  const results: TargetResult[] = []
  const largest = lookups.find((l) => l.rules === 100_000)
  if (largest)
    results.push({
      target: `lookup p50 at 100,000 rules < ${int(LOOKUP_P50_TARGET_NS)} ns`,
      figure: ns(largest.p50ns),
      pass: largest.p50ns < LOOKUP_P50_TARGET_NS,
      suspect: false
    })
  results.push(
    ...ratioTargets(engineVsBare, `engine (${int(ENGINE_RULES)} rules) / bare proxy-chain`, RATIO_TARGET)
  )
  for (const w of statsOnOff ?? [])
    results.push({
      target: `${INTERLEAVED_NAMES[w.workload]}: engine with statistics and logging / without ≥ ${STATS_RATIO_TARGET}×`,
      figure: `${ratio(w.ratio)}× ± ${(2 * w.standardError).toFixed(3)}`,
      pass: w.ratio >= STATS_RATIO_TARGET,
      suspect: w.suspect.length > 0
    })
  const off = memory.find((m) => m.variant === 'engine')
  const on = memory.find((m) => m.variant === 'engine-stats')
  if (off && on)
    results.push({
      target: `RSS with ${int(on.connections)} open tunnels: statistics on / off ≤ ${MEMORY_RATIO_TARGET}×`,
      figure: `${ratio(on.loadedRssMiB / off.loadedRssMiB)}× (${on.loadedRssMiB.toFixed(0)} / ${off.loadedRssMiB.toFixed(0)} MiB)`,
      pass: on.loadedRssMiB / off.loadedRssMiB <= MEMORY_RATIO_TARGET,
      suspect: false
    })
  return results
}

async function compare(
  title: string,
  comparison: Comparison,
  options: ThroughputOptions,
  log: (line: string) => void
): Promise<ThroughputFigures> {
  const { baseline, candidate } = comparison
  log(
    `\n${title}: ${options.connections} connections; per workload ${options.pairs} pairs of new ${baseline} and ${candidate} processes, each ` +
      `variant warmed up for ${options.warmupSeconds} s, then ${options.rounds} rounds of ${options.seconds} s, ` +
      'the two variants back to back in turn first (ABBA)'
  )
  const figures = await measureThroughput({ ...options, log }, comparison)
  log('')
  log(throughputTable(figures))
  const cpu = cpuTable(figures)
  // Requests/s on a small machine swings with any other load; CPU per operation barely does.
  if (cpu) log(`\nProxy process CPU per operation (above 1: the candidate costs more)\n${cpu}`)
  for (const { name, w } of ran(figures)) for (const line of w.suspect) log(`  SUSPECT ${name}: ${line}`)
  return figures
}

async function compareInterleaved(
  title: string,
  comparison: Comparison,
  options: ReturnType<typeof parseOptions>,
  workloads: Workload[],
  log: (line: string) => void
): Promise<InterleavedWorkload[]> {
  log(
    `\n${title}: both in one new process per run, ${options.processes} runs per workload; ` +
      `${options.connections} connections per variant, the load switching between them every ${SLICE_MS} ms ` +
      `(ABBA) for ${options.warmupSeconds} s uncounted, then ${options.interleaveSeconds} s measured`
  )
  const results = await measureInterleaved(comparison, {
    processes: options.processes,
    seconds: options.interleaveSeconds,
    warmupSeconds: options.warmupSeconds,
    connections: options.connections,
    workloads,
    log
  })
  log('')
  log(interleavedTable(results))
  for (const w of results)
    for (const line of w.suspect) log(`  SUSPECT ${INTERLEAVED_NAMES[w.workload]}: ${line}`)
  return results
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const cpus = os.cpus()
  const machine = {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown'
  }
  const log = (line: string): void => console.log(line)
  const startedAt = new Date()
  log(`Junction benchmark — Node ${machine.node}, ${machine.cpus}× ${machine.cpuModel}, ${machine.platform}`)

  const lookups: LookupFigures[] = []
  if (options.lookup) {
    log('\nRule lookup (ns per lookup, clock overhead subtracted)')
    for (const count of LOOKUP_RULE_COUNTS) lookups.push(measureLookups(count))
    log(lookupTable(lookups))
  }
  const profileSwitch = options.lookup ? await measureProfileSwitch() : null
  if (profileSwitch) log(switchSummary(profileSwitch))

  const throughput =
    options.workloads.length > 0
      ? await compare(
          'Throughput, engine vs bare proxy-chain',
          { baseline: 'bare', candidate: 'engine' },
          options,
          log
        )
      : null
  const statistics = options.stats
    ? await compareInterleaved(
        'Throughput, statistics and logging on vs off',
        { baseline: 'engine', candidate: 'engine-stats' },
        options,
        ['http', 'connect', 'connect-bulk'],
        log
      )
    : null
  const noise = options.noise
    ? await compareInterleaved(
        'Noise floor, engine vs the same engine',
        { baseline: 'engine', candidate: 'engine' },
        options,
        ['http', 'connect'],
        log
      )
    : null
  let pipeline: InterleavedWorkload[] | null = null
  if (options.pipeline) {
    process.env.BENCH_PREVIOUS_DIR = previousTree()
    pipeline = await compareInterleaved(
      `Throughput, this engine vs the one before the request pipeline (${PREVIOUS_COMMIT}), statistics and logging on`,
      { baseline: 'previous-stats', candidate: 'engine-stats' },
      options,
      ['http', 'connect', 'connect-bulk'],
      log
    )
  }
  let headless: HeadlessRss[] = []
  if (options.headless) {
    log('\nHeadless mode, baseline RSS of its whole process tree (dashboard on, no traffic, 5 s after start)')
    headless = await measureHeadlessRss(3)
    log(
      table([
        ['variant', 'processes', 'RSS MiB (each run)'],
        ...(['previous', 'current'] as const).map((variant) => {
          const runs = headless.filter((r) => r.variant === variant)
          return [variant, String(runs[0]?.processes ?? 0), runs.map((r) => r.rssMiB.toFixed(1)).join(' ')]
        })
      ])
    )
  }
  let streaming: StreamingMemory[] = []
  if (options.streaming) {
    log(
      '\nStreaming: engine RSS (statistics on) while 1 GiB goes up, then 1 GiB down, one request each, then the same through a CONNECT tunnel'
    )
    streaming = await measureStreamingMemory()
    // A body over the edit limit passes unchanged: memory must stay flat with an edit rule too.
    log('\n100 MiB text downloads, engine RSS growth (peak), with and without a body-edit rule, in turn:')
    for (const variant of ['engine-stats', 'engine-edits', 'engine-stats', 'engine-edits'] as const) {
      const down = (await measureStreamingMemory(100 * 2 ** 20, variant)).find(
        (s) => s.direction === 'download'
      )!
      log(
        `  ${variant.padEnd(13)} +${down.growthMiB.toFixed(1)} MiB (${down.startRssMiB.toFixed(1)} → ${down.peakRssMiB.toFixed(1)})`
      )
    }
    log(
      table([
        ['transfer', 'MiB/s', 'RSS before', 'peak', 'growth', '1 s after', 'left'],
        ...streaming.map((s) => [
          s.direction,
          (s.bytes / 2 ** 20 / s.seconds).toFixed(0),
          `${s.startRssMiB.toFixed(1)} MiB`,
          `${s.peakRssMiB.toFixed(1)} MiB`,
          `${s.growthMiB.toFixed(1)} MiB`,
          `${s.afterRssMiB.toFixed(1)} MiB`,
          `${s.leftMiB.toFixed(1)} MiB`
        ])
      ])
    )
  }
  let interception: InterceptionFigures | null = null
  if (options.intercept) {
    log('\nHTTPS interception: TLS handshakes/s through Junction (8 workers, 4 rounds of 3 s, loads in turn)')
    interception = await measureInterception()
    const spread = (values: number[]): string =>
      `${int(median(values))} (${values.map((v) => int(v)).join(' ')})`
    log(
      table([
        ['load', 'median per second (each round)'],
        ['tunnel, not intercepted (origin handshake)', spread(interception.tunnel)],
        ['intercepted, warm leaf cache', spread(interception.warm)],
        ['intercepted, new host each time (cold)', spread(interception.cold)],
        ['requests over one intercepted keep-alive TLS connection', spread(interception.keepAlive)]
      ])
    )
    log(
      `leaf issuance: p50 ${interception.issueP50Ms.toFixed(2)} ms, p90 ${interception.issueP90Ms.toFixed(2)} ms`
    )
  }
  let memory: MemoryFigures[] = []
  if (options.memory) {
    log(`\nMemory: proxy process RSS idle and with ${int(MEMORY_CONNECTIONS)} open CONNECT tunnels`)
    memory = await measureMemory(['engine', 'engine-stats'], MEMORY_CONNECTIONS)
    log(memoryTable(memory))
  }

  const peers: PeersReport | null = options.peers ? await measurePeers(options.smoke, log) : null

  const targets = evaluate(lookups, throughput, statistics, memory)
  targets.push(...(peers?.targets ?? []))
  if (interception) {
    const warm = median(interception.warm) / median(interception.tunnel)
    targets.push(
      {
        target: 'intercepted handshakes (warm) / tunnelled handshakes ≥ 0.5×',
        figure: `${ratio(warm)}×`,
        pass: warm >= 0.5,
        suspect: false
      },
      {
        target: 'leaf issuance p50 ≤ 3 ms',
        figure: `${interception.issueP50Ms.toFixed(2)} ms`,
        pass: interception.issueP50Ms <= 3,
        suspect: false
      }
    )
  }
  const current = headless.filter((r) => r.variant === 'current')
  if (current.length > 0) {
    const worst = Math.max(...current.map((r) => r.rssMiB))
    targets.push({
      target: `headless mode before any traffic: one process, RSS ≤ ${HEADLESS_IDLE_MIB} MiB (worst run)`,
      figure: `${current[0]!.processes} process(es), ${worst.toFixed(1)} MiB`,
      pass: current.every((r) => r.processes === 1) && worst <= HEADLESS_IDLE_MIB,
      suspect: false
    })
  }
  for (const s of streaming)
    targets.push({
      target: `1 GiB ${s.direction}: engine RSS peak < ${STREAMING_GROWTH_MIB} MiB above the start`,
      figure: `+${s.growthMiB.toFixed(1)} MiB (${s.leftMiB.toFixed(1)} MiB left 1 s after)`,
      pass: s.growthMiB < STREAMING_GROWTH_MIB,
      suspect: false
    })
  for (const w of pipeline ?? [])
    targets.push({
      target: `${INTERLEAVED_NAMES[w.workload]}: pipeline engine / previous engine ≥ 1.0×`,
      figure: `${ratio(w.ratio)}× ± ${(2 * w.standardError).toFixed(3)}`,
      pass: w.ratio >= 1,
      suspect: w.suspect.length > 0
    })
  log('\nTargets')
  log(
    table([
      ['target', 'measured', 'result'],
      ...targets.map((t) => [
        t.target,
        t.figure,
        `${t.pass ? 'PASS' : 'MISS'}${t.suspect ? ' (suspect)' : ''}`
      ])
    ])
  )

  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = `${RESULTS_DIR}latest.json`
  const finishedAt = new Date()
  const seconds = (finishedAt.getTime() - startedAt.getTime()) / 1000
  const report = {
    startedAt,
    finishedAt,
    seconds,
    machine,
    options,
    lookups,
    profileSwitch,
    throughput,
    statistics,
    noise,
    pipeline,
    headless,
    streaming,
    interception,
    memory,
    peers,
    targets
  }
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`)
  log(`\nFull figures: ${file} (${seconds.toFixed(0)} s)`)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    killAllChildren()
    process.exit(130)
  })

main().catch((error: unknown) => {
  console.error(
    `\nbenchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`
  )
  killAllChildren()
  process.exitCode = 1
})
