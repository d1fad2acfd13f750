/**
 * Where the engine spends CPU that bare proxy-chain does not: `node bench/profile.ts http|connect`.
 *
 * Profiles one bare and one engine proxy process under the same load as the benchmark, after the same
 * warm-up (the profiler starts only then), and prints CPU time per request by area and by function for
 * both, side by side. The .cpuprofile files land in bench/results/ (open them in Chrome DevTools).
 *
 * Options: --seconds S (profiled load, default 10), --warmup S (default 6), --connections N
 * (default 20), --top N (functions listed, default 25), --compare A,B (variants, default bare,engine;
 * `previous-stats,engine-stats` compares the engine before the request pipeline with this one).
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { cpuDelta, cpuSnapshot } from './cpu-usage.ts'
import { previousTree } from './previous-engine.ts'
import {
  DEFAULT_THROUGHPUT,
  killAllChildren,
  LOADS,
  startChild,
  type Child,
  type Variant,
  type Workload
} from './throughput.ts'

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url))
const VARIANTS: readonly Variant[] = ['bare', 'engine', 'engine-stats', 'previous-stats']
/** `--compare engine,engine-stats` profiles other variants than bare proxy-chain against the engine. */
const [BASELINE, CANDIDATE] = (() => {
  const i = process.argv.indexOf('--compare')
  const pair = (i === -1 ? 'bare,engine' : (process.argv[i + 1] ?? '')).split(',') as Variant[]
  if (pair.length !== 2 || !pair.every((v) => VARIANTS.includes(v)))
    throw new Error(`--compare takes two of ${VARIANTS.join(', ')}, e.g. engine,engine-stats`)
  if (pair.includes('previous-stats')) process.env.BENCH_PREVIOUS_DIR = previousTree()
  return pair as [Variant, Variant]
})()
const ROOT_URL = new URL('../', import.meta.url).href

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

interface Breakdown {
  ops: number
  /** Microseconds of CPU per op (idle excluded), by area, by function (self) and by function (inclusive). */
  totalUs: number
  areas: Map<string, number>
  self: Map<string, number>
  inclusive: Map<string, number>
}

function area(frame: ProfileNode['callFrame']): string | null {
  const { functionName, url } = frame
  if (functionName === '(idle)') return null
  if (functionName === '(garbage collector)') return 'GC'
  if (functionName === '(program)' || functionName === '(root)') return 'V8/native (program)'
  if (url.startsWith('node:')) return 'Node internals'
  if (url.includes('/node_modules/proxy-chain/')) return 'proxy-chain'
  if (url.includes('/node_modules/')) return 'other packages'
  if (url.startsWith(`${ROOT_URL}main/`)) return 'Junction (main/)'
  if (url.startsWith(`${ROOT_URL}common/`)) return 'Junction (common/)'
  if (url.startsWith(`${ROOT_URL}bench/`)) return 'bench harness'
  return url ? 'other' : 'V8/native (program)'
}

function functionKey(frame: ProfileNode['callFrame']): string {
  const url = frame.url.replace(ROOT_URL, '').replace(/^.*node_modules\//, '')
  return `${frame.functionName || '(anonymous)'}${url ? ` ${url}:${frame.lineNumber + 1}` : ''}`
}

function analyse(profile: CpuProfile, ops: number): Breakdown {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const add = (map: Map<string, number>, key: string, us: number): void => {
    map.set(key, (map.get(key) ?? 0) + us)
  }
  const result: Breakdown = { ops, totalUs: 0, areas: new Map(), self: new Map(), inclusive: new Map() }
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!
    const where = area(node.callFrame)
    if (where === null) return
    const us = (profile.timeDeltas[i] ?? 0) / ops
    result.totalUs += us
    add(result.areas, where, us)
    add(result.self, functionKey(node.callFrame), us)
    // Each function once per sample, however often it recurses in the stack.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = functionKey(byId.get(at)!.callFrame)
      if (seen.has(key)) continue
      seen.add(key)
      add(result.inclusive, key, us)
    }
  })
  return result
}

async function profileVariant(
  workload: Workload,
  variant: Variant,
  origin: Child,
  options: { seconds: number; warmup: number; connections: number }
): Promise<Breakdown> {
  const file = `${RESULTS_DIR}profile-${workload}-${variant}.cpuprofile`
  const proxy = await startChild('./proxy-server.ts', [variant], `proxy child (${variant})`, {
    ...process.env,
    BENCH_CPU_PROFILE: file
  })
  let ops: number
  try {
    await LOADS[workload](proxy.port, origin.port, options.warmup, options.connections)
    process.kill(proxy.pid, 'SIGUSR2')
    // Give the profiler a moment to start before the measured load.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const pids = ['self', proxy.pid, origin.pid] as const
    const before = cpuSnapshot([...pids])
    const figures = await LOADS[workload](proxy.port, origin.port, options.seconds, options.connections)
    // A profile taken while other work ran is not comparable with the other variant's.
    const cpu = cpuDelta(before, cpuSnapshot([...pids]))
    ops = figures.completed
    console.log(
      `  ${variant.padEnd(6)} ${Math.round(figures.perSecond).toLocaleString('en-US')} ops/s while profiled` +
        (cpu ? `, other work ${Math.round(cpu.foreignShare * 100)}% CPU` : '') +
        (Object.keys(figures.errors).length ? ` (errors: ${JSON.stringify(figures.errors)})` : '')
    )
  } finally {
    await proxy.stop(20_000)
  }
  return analyse(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, ops)
}

function printComparison(title: string, bare: Map<string, number>, engine: Map<string, number>, top: number) {
  const keys = [...new Set([...bare.keys(), ...engine.keys()])]
    .sort((a, b) => (engine.get(b) ?? 0) - (engine.get(a) ?? 0))
    .slice(0, top)
  const width = Math.max(...keys.map((k) => k.length), title.length)
  console.log(`\n  ${title.padEnd(width)}   ${BASELINE} µs/op   ${CANDIDATE} µs/op   difference`)
  for (const key of keys) {
    const b = bare.get(key) ?? 0
    const e = engine.get(key) ?? 0
    const diff = e - b
    console.log(
      `  ${key.padEnd(width)}   ${b.toFixed(2).padStart(10)}   ${e.toFixed(2).padStart(12)}   ` +
        `${(diff >= 0 ? '+' : '') + diff.toFixed(2)}`.padStart(10)
    )
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '6' },
      connections: { type: 'string', default: String(DEFAULT_THROUGHPUT.connections) },
      top: { type: 'string', default: '25' },
      compare: { type: 'string' }
    }
  })
  const workload = positionals[0]
  if (workload !== 'http' && workload !== 'connect' && workload !== 'connect-bulk')
    throw new Error(
      'usage: node bench/profile.ts http|connect|connect-bulk [--seconds S] [--warmup S] [--top N]'
    )
  const options = {
    seconds: Number(values.seconds),
    warmup: Number(values.warmup),
    connections: Number(values.connections)
  }
  const top = Number(values.top)
  mkdirSync(RESULTS_DIR, { recursive: true })
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  let bare: Breakdown
  let engine: Breakdown
  try {
    console.log(`Profiling ${workload}: ${options.warmup} s warm-up, then ${options.seconds} s profiled`)
    bare = await profileVariant(workload, BASELINE, origin, options)
    engine = await profileVariant(workload, CANDIDATE, origin, options)
  } finally {
    await origin.stop()
  }
  console.log(
    `\n  sampled CPU per op (idle excluded): ${BASELINE} ${bare.totalUs.toFixed(1)} µs, ${CANDIDATE} ` +
      `${engine.totalUs.toFixed(1)} µs (${(engine.totalUs / bare.totalUs).toFixed(3)}×)`
  )
  printComparison('area', bare.areas, engine.areas, 20)
  printComparison('function (self time)', bare.self, engine.self, top)
  const junction = (map: Map<string, number>): Map<string, number> =>
    new Map([...map].filter(([key]) => / (main|common)\//.test(key)))
  printComparison('Junction function (inclusive)', junction(bare.inclusive), junction(engine.inclusive), top)
  console.log(`\nProfiles: ${RESULTS_DIR}profile-${workload}-{${BASELINE},${CANDIDATE}}.cpuprofile`)
}

main().catch((error: unknown) => {
  console.error(error)
  killAllChildren()
  process.exitCode = 1
})
