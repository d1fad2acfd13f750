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
 */
import { parseArgs } from 'node:util'
import { measureInterleaved } from './interleaved.ts'
import { pinSelfToLoadCpu, pinToProxyCpu } from './pinning.ts'
import { previousTree } from './previous-engine.ts'
import { killAllChildren, type Workload } from './throughput.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    workload: { type: 'string', default: 'http' }
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

main()
  .catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(() => killAllChildren())
