/**
 * Headless Junction's memory and CPU under plain-HTTP keep-alive load and once it is over (issue 14;
 * README, "Running headless"; BENCHMARKS.md, "The direct lane"):
 *
 *   node bench/load-rss.ts [--flags "--max-semi-space-size=16" | --entry other-tree/out/main/serve.js]
 *                          [--connections 64] [--seconds 10] [--rounds 3]
 *
 * Two variants, each started fresh every round as the peers benchmark starts Junction (1,000 rules,
 * statistics and the request log file on), in ABBA order: this build as `npm run serve` starts it, and
 * either this build with other Node flags (`--flags`, `none` for none) or another build (`--entry`).
 * Each is pinned to the proxy CPU and loaded by wrk (1 KiB answers from bench/origin-server.ts); read:
 * RSS 2 s after start, RSS at the end of the load, RSS 20 s later (the memory return has run by then),
 * proxy CPU per request from /proc, and requests per second. `npm run build` first.
 */
import { parseArgs } from 'node:util'
import { servedNodeFlags } from './built-serve.ts'
import { processTicks } from './cpu-usage.ts'
import { wrkLoad } from './peers-load.ts'
import { startPeer } from './peers-processes.ts'
import { pinSelfToLoadCpu } from './pinning.ts'
import { median, startChild, runScript } from './throughput.ts'

const { values } = parseArgs({
  options: {
    flags: { type: 'string' },
    entry: { type: 'string' },
    connections: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' }
  }
})
if ((values.flags === undefined) === (values.entry === undefined))
  throw new Error('give one of --flags "…" (or none) and --entry other-tree/out/main/serve.js')

interface Variant {
  name: string
  entry?: string
  nodeFlags?: string[]
}
interface Figures {
  startMiB: number
  loadedMiB: number
  afterMiB: number
  cpuUs: number
  rate: number
}

const baseline: Variant = { name: `npm run serve (${servedNodeFlags().join(' ') || 'no flags'})` }
const candidate: Variant =
  values.flags !== undefined
    ? {
        name: `flags: ${values.flags}`,
        nodeFlags: values.flags === 'none' ? [] : values.flags.split(' ').filter(Boolean)
      }
    : { name: `entry: ${values.entry}`, entry: values.entry! }
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function measure(variant: Variant, originPort: number, pinning: ReturnType<typeof pinSelfToLoadCpu>) {
  const peer = await startPeer('junction', pinning, variant.entry, variant.nodeFlags)
  try {
    await sleep(2000)
    const startMiB = peer.memory().rssMiB
    const ticks = processTicks(peer.pid)!
    const load = await wrkLoad(
      { proxyPort: peer.port, originPort, dataPort: 0 },
      Number(values.seconds),
      Number(values.connections)
    )
    // /proc counts in clock ticks of 10 ms.
    const cpuUs = ((processTicks(peer.pid)! - ticks) * 10_000) / load.completed
    const loadedMiB = peer.memory().rssMiB
    await sleep(20_000)
    const figures: Figures = {
      startMiB,
      loadedMiB,
      afterMiB: peer.memory().rssMiB,
      cpuUs,
      rate: load.perSecond
    }
    return figures
  } finally {
    await peer.stop()
  }
}

const show = (f: Figures) =>
  `RSS ${f.startMiB.toFixed(1)} → ${f.loadedMiB.toFixed(1)} loaded → ${f.afterMiB.toFixed(1)} MiB 20 s after; ` +
  `${f.cpuUs.toFixed(1)} µs CPU/request, ${Math.round(f.rate).toLocaleString('en-US')} req/s`

async function main(): Promise<void> {
  const pinning = pinSelfToLoadCpu()
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  console.log(
    `A = ${baseline.name}\nB = ${candidate.name}\n${values.connections} connections, ${values.seconds} s; ${pinning.description}`
  )
  const results = new Map<Variant, Figures[]>([
    [baseline, []],
    [candidate, []]
  ])
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      const order = round % 2 ? [baseline, candidate] : [candidate, baseline]
      for (const variant of order) {
        const figures = await measure(variant, origin.port, pinning)
        results.get(variant)!.push(figures)
        console.log(`round ${round} ${variant === baseline ? 'A' : 'B'}: ${show(figures)}`)
      }
    }
  } finally {
    await origin.stop()
  }
  console.log('medians (B ÷ A):')
  for (const key of ['startMiB', 'loadedMiB', 'afterMiB', 'cpuUs', 'rate'] as const) {
    const a = median(results.get(baseline)!.map((f) => f[key]))
    const b = median(results.get(candidate)!.map((f) => f[key]))
    console.log(
      `  ${key.padEnd(10)} A ${a.toFixed(1).padStart(9)}  B ${b.toFixed(1).padStart(9)}  ${(b / a).toFixed(3)}`
    )
  }
}

runScript(main)
