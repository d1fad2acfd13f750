/**
 * Headless Junction's RSS before any traffic, with 5,000 idle tunnels open and 20 s after they closed,
 * after the workloads the peers benchmark runs before that (issue 14's last memory target; BENCHMARKS.md,
 * "Memory after the tunnels close"):
 *
 *   node bench/after-close-rss.ts --env "MALLOC_ARENA_MAX=16" [--runs 2]
 *
 * Two variants, each started fresh every run as the peers benchmark starts Junction (1,000 rules,
 * statistics and the request log file on), alternating: as `npm run serve` starts it, and with the
 * environment variables given to `--env` added. Each run replays the peers benchmark's sequence for
 * one peer: 3 s of HTTP and 3 s of tunnels to warm up, five 1 s HTTP slices and five 1 s tunnel slices
 * 4 s apart, one 1 GiB and eight 256 MiB downloads through tunnels, then 5,000 idle tunnels, read 2 s
 * after they opened and 20 s after they closed (as the peers benchmark does). Besides RSS it splits
 * what grew by kind of mapping (/proc/PID/smaps): glibc's main heap, other anonymous memory (V8's
 * heap, glibc's heaps for other threads), and files (the node binary's code). `npm run build` first.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { environmentWith } from './built-serve.ts'
import { bulkTransfer, idleTunnels, tunnelChurn, wrkLoad, type Route } from './peers-load.ts'
import { startPeer } from './peers-processes.ts'
import { FULL } from './peers.ts'
import { pinSelfToLoadCpu, type Pinning } from './pinning.ts'
import { rssByMapping } from './proc.ts'
import { killAllChildren, median, startChild } from './throughput.ts'

const { values } = parseArgs({
  options: {
    env: { type: 'string' },
    runs: { type: 'string', default: '2' }
  }
})
if (!values.env) throw new Error('give --env "NAME=value …": the variant to compare with npm run serve')
const MiB = 2 ** 20

type Split = ReturnType<typeof rssByMapping>

interface Figures {
  start: number
  tunnels: number
  closed: number
  grown: Split
}

async function oneRun(
  pinning: Pinning,
  originPort: number,
  dataPort: number,
  env: NodeJS.ProcessEnv
): Promise<Figures> {
  const peer = await startPeer('junction', pinning, undefined, undefined, env)
  try {
    const route: Route = { proxyPort: peer.port, originPort, dataPort }
    await sleep(2000)
    const start = peer.memory().rssMiB
    const before = rssByMapping(peer.pid)
    await wrkLoad(route, 3, 64)
    await tunnelChurn(route, 3, 32)
    for (let slice = 0; slice < 5; slice++) await sleep(4000).then(() => wrkLoad(route, 1, 64))
    for (let slice = 0; slice < 5; slice++) await sleep(4000).then(() => tunnelChurn(route, 1, 32))
    await bulkTransfer(route, 1, 1024 * MiB)
    await bulkTransfer(route, 8, 256 * MiB)
    const idle = await idleTunnels(
      peer.port,
      originPort,
      FULL.tunnels,
      FULL.settleMs,
      FULL.closedSettleMs,
      () => peer.memory().rssMiB
    )
    const after = rssByMapping(peer.pid)
    const grown = {
      heap: (after.heap - before.heap) / 1024,
      anonymous: (after.anonymous - before.anonymous) / 1024,
      files: (after.files - before.files) / 1024
    }
    return { start, tunnels: idle.openRssMiB, closed: idle.closedRssMiB, grown }
  } finally {
    await peer.stop()
  }
}

async function main(): Promise<void> {
  const pinning = pinSelfToLoadCpu()
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  const data = await startChild('./peers-data-origin.ts', [], 'data origin child')
  const variants = [
    { name: 'as npm run serve', env: process.env },
    { name: values.env!, env: environmentWith(values.env!) }
  ]
  const results = new Map<string, Figures[]>(variants.map((v) => [v.name, []]))
  console.log(`headless Junction, 1,000 rules, statistics and request log; ${pinning.description}`)
  try {
    for (let run = 1; run <= Number(values.runs); run++) {
      for (const variant of run % 2 ? variants : [...variants].reverse()) {
        const f = await oneRun(pinning, origin.port, data.port, variant.env)
        results.get(variant.name)!.push(f)
        console.log(
          `run ${run} ${variant.name}: RSS ${f.start.toFixed(1)} MiB at start, ${f.tunnels.toFixed(1)} with 5,000 ` +
            `idle tunnels, ${f.closed.toFixed(1)} after they closed (${pct(f)}); grown: glibc main heap ` +
            `${f.grown.heap.toFixed(1)} MiB, other anonymous ${f.grown.anonymous.toFixed(1)}, files ${f.grown.files.toFixed(1)}`
        )
      }
    }
  } finally {
    await Promise.allSettled([origin.stop(), data.stop()])
  }
  for (const [name, runs] of results) {
    const ratios = runs.map((f) => f.closed / f.start - 1)
    console.log(
      `${name}: after close ${fmtPct(median(ratios))} over the start (runs ${ratios.map(fmtPct).join(', ')}), ` +
        `with the tunnels open ${median(runs.map((f) => f.tunnels)).toFixed(1)} MiB`
    )
  }
}

const fmtPct = (ratio: number): string => `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)} %`
const pct = (f: Figures): string => fmtPct(f.closed / f.start - 1)

main()
  .catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(killAllChildren)
