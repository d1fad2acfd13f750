/**
 * Proxy CPU per MiB of a bulk download through a CONNECT tunnel, this build against another, A/B:
 *
 *   node bench/bulk-cpu.ts --entry other-tree/out/main/serve.js [--rounds 3] [--streams 1] [--mib 1024]
 *   node bench/bulk-cpu.ts --env "MALLOC_ARENA_MAX=16" …   (this build with other environment variables)
 *   node bench/bulk-cpu.ts --squid …                        (this build against Squid, as peers.ts runs it)
 *
 * Both run as the peers benchmark starts Junction (headless, 1,000 rules, statistics and the
 * request log file on; `npm run build` first), each in its own process pinned to the proxy CPU, the
 * data origin and this client on the other. Each round starts both fresh and runs one transfer on
 * each in ABBA order; the proxy's CPU is read from /proc around each transfer, and so is what the data
 * origin and this client (the far ends, on the other CPU) spent per MiB.
 */
import { parseArgs } from 'node:util'
import { environmentWith } from './built-serve.ts'
import { processTicks } from './cpu-usage.ts'
import { bulkTransfer, type Route } from './peers-load.ts'
import { startPeer, type ProxyPeer } from './peers-processes.ts'
import { pinSelfToLoadCpu } from './pinning.ts'
import { killAllChildren, startChild } from './throughput.ts'

const { values } = parseArgs({
  options: {
    entry: { type: 'string' },
    env: { type: 'string' },
    squid: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    streams: { type: 'string', default: '1' },
    mib: { type: 'string', default: '1024' }
  }
})
if ([values.entry, values.env, values.squid || undefined].filter(Boolean).length !== 1)
  throw new Error(
    'usage: node bench/bulk-cpu.ts --entry other-tree/out/main/serve.js | --env "NAME=value …" | --squid'
  )
const MiB = 2 ** 20

/** One transfer: MiB/s, and µs of CPU per MiB of the proxy, the data origin and this client. */
interface Transfer {
  rate: number
  proxy: number
  origin: number
  client: number
}

async function transfer(peer: ProxyPeer, data: { pid: number; port: number }): Promise<Transfer> {
  const route: Route = { proxyPort: peer.port, originPort: 0, dataPort: data.port }
  const streams = Number(values.streams)
  const before = [peer.pid, data.pid, process.pid].map((pid) => processTicks(pid)!)
  const figures = await bulkTransfer(route, streams, (Number(values.mib) * MiB) / streams)
  // /proc counts in clock ticks of 10 ms.
  const [proxy, origin, client] = [peer.pid, data.pid, process.pid].map(
    (pid, i) => ((processTicks(pid)! - before[i]!) * 10_000 * MiB) / figures.bytes
  ) as [number, number, number]
  return { rate: figures.mibPerSecond, proxy, origin, client }
}

async function main(): Promise<void> {
  const pinning = pinSelfToLoadCpu()
  const data = await startChild('./peers-data-origin.ts', [], 'data origin child')
  console.log(
    `this build against ${values.squid ? 'Squid' : (values.entry ?? `itself with ${values.env}`)}; ${values.streams} stream(s), ${values.mib} MiB; ${pinning.description}`
  )
  const ratios: number[] = []
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      const peers = {
        this: await startPeer('junction', pinning),
        other: values.squid
          ? await startPeer('squid', pinning)
          : values.env
            ? await startPeer('junction', pinning, undefined, undefined, environmentWith(values.env))
            : await startPeer('junction', pinning, values.entry)
      }
      try {
        const cpu = { this: 0, other: 0 }
        for (const name of ['this', 'other', 'other', 'this'] as const) {
          const t = await transfer(peers[name], data)
          cpu[name] += t.proxy / 2
          console.log(
            `round ${round} ${name.padEnd(5)} ${t.rate.toFixed(0)} MiB/s, ${t.proxy.toFixed(0)} µs/MiB ` +
              `(data origin ${t.origin.toFixed(0)}, client ${t.client.toFixed(0)})`
          )
        }
        ratios.push(cpu.this / cpu.other)
        console.log(`round ${round}: CPU per MiB, this ÷ other ${(cpu.this / cpu.other).toFixed(3)}`)
      } finally {
        await peers.this.stop()
        await peers.other.stop()
      }
    }
    console.log(`CPU per MiB, this ÷ other, each round: ${ratios.map((r) => r.toFixed(3)).join(', ')}`)
  } finally {
    await data.stop()
  }
}

main()
  .catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(() => killAllChildren())
