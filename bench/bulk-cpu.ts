/**
 * Proxy CPU per MiB of a bulk download through a CONNECT tunnel, this build against another, A/B:
 *
 *   node bench/bulk-cpu.ts --entry other-tree/out/main/serve.js [--rounds 3] [--streams 1] [--mib 1024]
 *   node bench/bulk-cpu.ts --env "MALLOC_ARENA_MAX=16" …   (this build with other environment variables)
 *   node bench/bulk-cpu.ts --squid …                        (this build against Squid, as peers.ts runs it)
 *   node bench/bulk-cpu.ts --flags=--some-v8-flag …          (this build with Node flags added to the serve script's)
 *   … --syscalls   (root, perf: the proxy's and the data origin's system calls per MiB, by kind)
 *
 * Both run as the peers benchmark starts Junction (headless, 1,000 rules, statistics and the
 * request log file on; `npm run build` first), each in its own process pinned to the proxy CPU, the
 * data origin and this client on the other. Each round starts both fresh and runs one transfer on
 * each in ABBA order; the proxy's CPU is read from /proc around each transfer, and so is what the data
 * origin and this client (the far ends, on the other CPU) spent per MiB.
 */
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { environmentWith, servedNodeFlags } from './built-serve.ts'
import { processTicks } from './cpu-usage.ts'
import { bulkTransfer, type Route } from './peers-load.ts'
import { startPeer, type ProxyPeer } from './peers-processes.ts'
import { pinSelfToLoadCpu, type Pinning } from './pinning.ts'
import { startChild, runScript } from './throughput.ts'

const { values } = parseArgs({
  options: {
    entry: { type: 'string' },
    env: { type: 'string' },
    flags: { type: 'string' },
    squid: { type: 'boolean', default: false },
    syscalls: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    streams: { type: 'string', default: '1' },
    mib: { type: 'string', default: '1024' }
  }
})
if ([values.entry, values.env, values.flags, values.squid || undefined].filter(Boolean).length !== 1)
  throw new Error(
    'usage: node bench/bulk-cpu.ts --entry other-tree/out/main/serve.js | --env "NAME=value …" | --flags=--flag… | --squid'
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
  const counting = values.syscalls ? await Promise.all([peer.pid, data.pid].map(countSyscalls)) : []
  const before = [peer.pid, data.pid, process.pid].map((pid) => processTicks(pid)!)
  const figures = await bulkTransfer(route, streams, (Number(values.mib) * MiB) / streams)
  if (values.syscalls) {
    const [proxyCalls, originCalls] = await Promise.all(counting.map((stop) => stop()))
    const perMiB = (calls: Map<string, number>): string =>
      [...calls].map(([name, n]) => `${name} ${((n * MiB) / figures.bytes).toFixed(1)}`).join(', ')
    console.log(`  system calls per MiB: proxy ${perMiB(proxyCalls!)}; data origin ${perMiB(originCalls!)}`)
  }
  // /proc counts in clock ticks of 10 ms.
  const [proxy, origin, client] = [peer.pid, data.pid, process.pid].map(
    (pid, i) => ((processTicks(pid)! - before[i]!) * 10_000 * MiB) / figures.bytes
  ) as [number, number, number]
  return { rate: figures.mibPerSecond, proxy, origin, client }
}

const SYSCALLS = ['read', 'write', 'writev', 'epoll_wait', 'epoll_pwait', 'io_uring_enter']

/** Starts counting `pid`'s system calls (perf stat); the function returned stops and reads the counts. */
async function countSyscalls(pid: number): Promise<() => Promise<Map<string, number>>> {
  const events = SYSCALLS.map((name) => `syscalls:sys_enter_${name}`).join(',')
  const perf = spawn('perf', ['stat', '-x', ',', '-e', events, '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let report = ''
  perf.stderr.on('data', (chunk: Buffer) => (report += chunk.toString()))
  const exited = new Promise<void>((resolve) => perf.on('close', () => resolve()))
  await sleep(300) // perf attaches before the transfer starts
  return async () => {
    perf.kill('SIGINT')
    await exited
    const counts = new Map<string, number>()
    // CSV lines: count,unit,event,…
    for (const [count, , event] of report
      .trim()
      .split('\n')
      .map((line) => line.split(','))) {
      const n = Number(count)
      if (n > 0) counts.set(event!.replace('syscalls:sys_enter_', ''), n)
    }
    return counts
  }
}

/** The peer this build is compared with. */
function startOther(pinning: Pinning): Promise<ProxyPeer> {
  if (values.squid) return startPeer('squid', pinning)
  if (values.env) return startPeer('junction', pinning, undefined, undefined, environmentWith(values.env))
  if (values.flags)
    return startPeer('junction', pinning, undefined, [...servedNodeFlags(), ...values.flags.split(/\s+/)])
  return startPeer('junction', pinning, values.entry)
}

async function main(): Promise<void> {
  const pinning = pinSelfToLoadCpu()
  const data = await startChild('./peers-data-origin.ts', [], 'data origin child')
  console.log(
    `this build against ${values.squid ? 'Squid' : (values.entry ?? `itself with ${values.env ?? values.flags}`)}; ${values.streams} stream(s), ${values.mib} MiB; ${pinning.description}`
  )
  const ratios: number[] = []
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      const self = await startPeer('junction', pinning)
      // A peer that cannot start (a bad flag, a missing build) must not leave this one running.
      const other = await startOther(pinning).catch(async (error: unknown) => {
        await self.stop()
        throw error
      })
      const peers = { this: self, other }
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

runScript(main)
