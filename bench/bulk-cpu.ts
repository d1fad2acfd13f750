/**
 * Proxy CPU per MiB of a bulk download through a CONNECT tunnel, this build against another, A/B:
 *
 *   node bench/bulk-cpu.ts --entry other-tree/out/main/serve.js [--rounds 3] [--streams 1] [--mib 1024]
 *   node bench/bulk-cpu.ts --env "MALLOC_ARENA_MAX=16" …   (this build with other environment variables)
 *
 * Both run as the peers benchmark starts Junction (headless, 1,000 rules, statistics and the
 * request log file on; `npm run build` first), each in its own process pinned to the proxy CPU, the
 * data origin and this client on the other. Each round starts both fresh and runs one transfer on
 * each in ABBA order; the proxy's CPU is read from /proc around each transfer.
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
    rounds: { type: 'string', default: '3' },
    streams: { type: 'string', default: '1' },
    mib: { type: 'string', default: '1024' }
  }
})
if (!values.entry === !values.env)
  throw new Error('usage: node bench/bulk-cpu.ts --entry other-tree/out/main/serve.js | --env "NAME=value …"')
const MiB = 2 ** 20

/** MiB/s and proxy CPU µs per MiB of one transfer. */
async function transfer(peer: ProxyPeer, dataPort: number): Promise<[number, number]> {
  const route: Route = { proxyPort: peer.port, originPort: 0, dataPort }
  const streams = Number(values.streams)
  const before = processTicks(peer.pid)!
  const figures = await bulkTransfer(route, streams, (Number(values.mib) * MiB) / streams)
  // /proc counts in clock ticks of 10 ms.
  return [figures.mibPerSecond, ((processTicks(peer.pid)! - before) * 10_000 * MiB) / figures.bytes]
}

async function main(): Promise<void> {
  const pinning = pinSelfToLoadCpu()
  const data = await startChild('./peers-data-origin.ts', [], 'data origin child')
  console.log(
    `this build against ${values.entry ?? `itself with ${values.env}`}; ${values.streams} stream(s), ${values.mib} MiB; ${pinning.description}`
  )
  const ratios: number[] = []
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      const peers = {
        this: await startPeer('junction', pinning),
        other: values.env
          ? await startPeer('junction', pinning, undefined, undefined, environmentWith(values.env))
          : await startPeer('junction', pinning, values.entry)
      }
      try {
        const cpu = { this: 0, other: 0 }
        for (const name of ['this', 'other', 'other', 'this'] as const) {
          const [rate, perMiB] = await transfer(peers[name], data.port)
          cpu[name] += perMiB / 2
          console.log(
            `round ${round} ${name.padEnd(5)} ${rate.toFixed(0)} MiB/s, ${perMiB.toFixed(0)} µs/MiB`
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
