/**
 * Headless Junction's RSS before any traffic, with 5,000 idle tunnels open and 20 s after they closed,
 * after the workloads the peers benchmark runs before that (issue 14's last memory target; BENCHMARKS.md,
 * "Memory after the tunnels close"):
 *
 *   node bench/after-close-rss.ts --env "MALLOC_ARENA_MAX=16" [--runs 2]
 *   node bench/after-close-rss.ts --entry other-tree/out/main/serve.js   (this build against another)
 *   node bench/after-close-rss.ts --phases http [--layout]   (npm run serve alone, one workload)
 *
 * Two variants, each started fresh every run as the peers benchmark starts Junction (1,000 rules,
 * statistics and the request log file on), alternating: as `npm run serve` starts it, and with the
 * environment variables given to `--env` added or the build given to `--entry`. Each run replays the
 * peers benchmark's sequence for one peer: 3 s of HTTP and 3 s of tunnels to warm up, five 1 s HTTP
 * slices and five 1 s tunnel slices 4 s apart, one 1 GiB and eight 256 MiB downloads through tunnels,
 * then 5,000 idle tunnels, read 2 s after they opened and 20 s after they closed (as the peers
 * benchmark does). Besides RSS it splits what grew by kind of mapping (/proc/PID/smaps): glibc's main
 * heap, other anonymous memory (V8's heap, glibc's heaps for other threads), and files (the node
 * binary's code). `npm run build` first.
 *
 * `--phases` runs only some of the workloads (http, tunnels, bulk, idle; without idle, memory is read
 * as long after the last one as after the tunnels' close). `--layout` (root only) prints what glibc's
 * main heap holds at the end of each run (proc.ts heapLayout): what keeps its pages resident.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { environmentWith } from './built-serve.ts'
import { bulkTransfer, idleTunnels, tunnelChurn, wrkLoad, type Route } from './peers-load.ts'
import { startPeer } from './peers-processes.ts'
import { FULL } from './peers.ts'
import { pinSelfToLoadCpu, type Pinning } from './pinning.ts'
import { heapLayout, rssByMapping, vtablesOf, type HeapLayout } from './proc.ts'
import { median, startChild, runScript } from './throughput.ts'

const { values } = parseArgs({
  options: {
    env: { type: 'string' },
    entry: { type: 'string' },
    runs: { type: 'string', default: '2' },
    phases: { type: 'string', default: 'http,tunnels,bulk,idle' },
    layout: { type: 'boolean', default: false }
  }
})
const phases = new Set(values.phases.split(','))
const vtables = values.layout ? vtablesOf(process.execPath) : null
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
  env: NodeJS.ProcessEnv,
  entry: string | undefined
): Promise<Figures> {
  const peer = await startPeer('junction', pinning, entry, undefined, env)
  try {
    const route: Route = { proxyPort: peer.port, originPort, dataPort }
    await sleep(2000)
    const start = peer.memory().rssMiB
    const before = rssByMapping(peer.pid)
    const http = phases.has('http')
    const short = phases.has('tunnels')
    if (http) await wrkLoad(route, 3, 64)
    if (short) await tunnelChurn(route, 3, 32)
    for (let slice = 0; slice < 5 && http; slice++) await sleep(4000).then(() => wrkLoad(route, 1, 64))
    for (let slice = 0; slice < 5 && short; slice++) await sleep(4000).then(() => tunnelChurn(route, 1, 32))
    if (phases.has('bulk')) {
      await bulkTransfer(route, 1, 1024 * MiB)
      await bulkTransfer(route, 8, 256 * MiB)
    }
    let tunnels = Number.NaN
    let closed: number
    if (phases.has('idle')) {
      const idle = await idleTunnels(
        peer.port,
        originPort,
        FULL.tunnels,
        FULL.settleMs,
        FULL.closedSettleMs,
        () => peer.memory().rssMiB
      )
      tunnels = idle.openRssMiB
      closed = idle.closedRssMiB
    } else {
      await sleep(FULL.closedSettleMs)
      closed = peer.memory().rssMiB
    }
    const after = rssByMapping(peer.pid)
    const grown = {
      heap: (after.heap - before.heap) / 1024,
      anonymous: (after.anonymous - before.anonymous) / 1024,
      files: (after.files - before.files) / 1024
    }
    if (vtables) printLayout(heapLayout(peer.pid, vtables))
    return { start, tunnels, closed, grown }
  } finally {
    await peer.stop()
  }
}

async function main(): Promise<void> {
  const pinning = pinSelfToLoadCpu()
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  const data = await startChild('./peers-data-origin.ts', [], 'data origin child')
  const variants = [
    { name: 'as npm run serve', env: process.env, entry: undefined },
    ...(values.env ? [{ name: values.env, env: environmentWith(values.env), entry: undefined }] : []),
    ...(values.entry ? [{ name: values.entry, env: process.env, entry: values.entry }] : [])
  ]
  const results = new Map<string, Figures[]>(variants.map((v) => [v.name, []]))
  console.log(
    `headless Junction, 1,000 rules, statistics and request log; workloads ${values.phases}; ${pinning.description}`
  )
  try {
    for (let run = 1; run <= Number(values.runs); run++) {
      for (const variant of run % 2 ? variants : [...variants].reverse()) {
        const f = await oneRun(pinning, origin.port, data.port, variant.env, variant.entry)
        results.get(variant.name)!.push(f)
        const open = Number.isNaN(f.tunnels) ? '' : `${f.tunnels.toFixed(1)} with 5,000 idle tunnels, `
        console.log(
          `run ${run} ${variant.name}: RSS ${f.start.toFixed(1)} MiB at start, ${open}${f.closed.toFixed(1)} ` +
            `20 s after the last workload (${pct(f)}); grown: glibc main heap ` +
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
      `${name}: at the end ${fmtPct(median(ratios))} over the start (runs ${ratios.map(fmtPct).join(', ')})` +
        (phases.has('idle')
          ? `, with the tunnels open ${median(runs.map((f) => f.tunnels)).toFixed(1)} MiB`
          : '')
    )
  }
}

function printLayout(layout: HeapLayout): void {
  console.log(
    `  glibc main heap ${layout.heapMiB.toFixed(1)} MiB, top chunk ${layout.topMiB.toFixed(1)} MiB; ` +
      `KiB in use/free per MiB from its start: ${layout.perMiB.map((m) => `${m.usedKiB.toFixed(0)}/${m.freeKiB.toFixed(0)}`).join(' ')}`
  )
  const kinds = [...layout.nearTop].sort((a, b) => b[1].kib - a[1].kib).slice(0, 12)
  console.log(
    `  in use in the 3 MiB below the top: ${kinds.map(([name, k]) => `${name} ×${k.count} (${k.kib.toFixed(0)} KiB)`).join(', ')}`
  )
}

const fmtPct = (ratio: number): string => `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)} %`
const pct = (f: Figures): string => fmtPct(f.closed / f.start - 1)

runScript(main)
