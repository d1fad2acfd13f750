/**
 * One change to the plain-HTTP forward path, A/B: `node bench/hotpath.ts <baseline-commit>`.
 *
 * The engine (with statistics and the request log on) as it is in the working tree runs beside the
 * same engine at `<baseline-commit>` in one proxy process pinned to its own CPU, the load and the
 * origin pinned to the other; the load switches between the two every 100 ms (ABBA, interleaved.ts).
 * Each round is a fresh process; a round prints proxy CPU per request for both and their ratio, the
 * figure that stays put on this noisy machine while request rates swing.
 *
 * Options: --rounds N (fresh processes, default 3), --seconds S (measured per round, default 20),
 * --warmup S (default 5), --connections N (keep-alive connections per variant, default 64), --workload
 * http|connect (default http; connect opens a new connection per tunnel, to see per-connection costs).
 *
 * --separate (HTTP only): the two engines in two processes instead, both pinned to the proxy CPU,
 * wrk (--connections keep-alive connections, 1 KiB answers) loading one at a time for 1 s in ABBA
 * order, each one's CPU read from /proc around its own seconds. Nothing of one engine (its heap, its
 * garbage collections, its timers) can then land in the other's figures.
 */
import { parseArgs } from 'node:util'
import { processTicks } from './cpu-usage.ts'
import { measureInterleaved } from './interleaved.ts'
import { wrkLoad } from './peers-load.ts'
import { pinSelfToLoadCpu, pinToProxyCpu, type Pinning } from './pinning.ts'
import { previousTree } from './previous-engine.ts'
import { startChild, type Workload, runScript } from './throughput.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    workload: { type: 'string', default: 'http' },
    separate: { type: 'boolean', default: false }
  }
})
const baseline = positionals[0]
if (!baseline) throw new Error('usage: node bench/hotpath.ts <baseline-commit> [--rounds N] [--seconds S]')

async function main(): Promise<void> {
  process.env.BENCH_PREVIOUS_DIR = previousTree(baseline)
  const pinning = pinSelfToLoadCpu()
  console.log(`${values.workload}, working tree vs ${baseline}; ${pinning.description}`)
  console.log('round  baseline µs/op   candidate µs/op   cpu ratio  rate ratio')
  const cpuRatios: number[] = []
  for (let round = 1; round <= Number(values.rounds); round++) {
    if (values.separate) {
      const { a, b, rate } = await separateRound(pinning)
      cpuRatios.push(b / a)
      console.log(
        `${round}      ${a.toFixed(1).padStart(15)}  ${b.toFixed(1).padStart(16)}  ${(b / a).toFixed(3).padStart(9)}  ${rate.toFixed(3).padStart(10)}`
      )
      continue
    }
    const [result] = await measureInterleaved(
      { baseline: 'previous-stats', candidate: 'engine-stats' },
      {
        processes: 1,
        seconds: Number(values.seconds),
        warmupSeconds: Number(values.warmup),
        connections: Number(values.connections),
        workloads: [values.workload as Workload],
        onProxyStarted: (pid) => pinToProxyCpu(pinning, pid)
      }
    )
    const a = result!.baseline.cpuUsPerOp!
    const b = result!.candidate.cpuUsPerOp!
    cpuRatios.push(b / a)
    console.log(
      `${round}      ${a.toFixed(1).padStart(15)}  ${b.toFixed(1).padStart(16)}  ${(b / a).toFixed(3).padStart(9)}  ${result!.ratio.toFixed(3).padStart(10)}` +
        (result!.suspect.length ? `  SUSPECT: ${result!.suspect.join('; ')}` : '')
    )
  }
  const sorted = [...cpuRatios].sort((x, y) => x - y)
  console.log(
    `cpu ratio (candidate / baseline): median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)}, ` +
      `range ${sorted[0]!.toFixed(3)}–${sorted.at(-1)!.toFixed(3)}`
  )
}

/** Seconds of load each engine gets at a time in --separate rounds. */
const SLICE_SECONDS = 1

/** One --separate round: proxy CPU µs per request of each engine, and the candidate's rate ÷ the baseline's. */
async function separateRound(pinning: Pinning): Promise<{ a: number; b: number; rate: number }> {
  const connections = Number(values.connections)
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  const engines = [
    await startChild('./proxy-server.ts', ['previous-stats'], 'baseline proxy'),
    await startChild('./proxy-server.ts', ['engine-stats'], 'candidate proxy')
  ]
  try {
    for (const engine of engines) pinToProxyCpu(pinning, engine.pid)
    const route = (port: number) => ({ proxyPort: port, originPort: origin.port, dataPort: 0 })
    for (const engine of engines) await wrkLoad(route(engine.port), Number(values.warmup), connections)
    const ticks = [0, 0]
    const ops = [0, 0]
    const slices = Math.max(2, Math.round(Number(values.seconds) / SLICE_SECONDS))
    for (let slice = 0; slice < slices; slice++) {
      for (const i of slice % 2 === 0 ? [0, 1] : [1, 0]) {
        const before = processTicks(engines[i]!.pid)!
        ops[i]! += (await wrkLoad(route(engines[i]!.port), SLICE_SECONDS, connections)).completed
        ticks[i]! += processTicks(engines[i]!.pid)! - before
      }
    }
    // /proc counts in clock ticks of 10 ms.
    const usPerOp = (i: number): number => (ticks[i]! * 10_000) / ops[i]!
    return { a: usPerOp(0), b: usPerOp(1), rate: ops[1]! / ops[0]! }
  } finally {
    for (const child of [...engines, origin]) await child.stop()
  }
}

runScript(main)
