/**
 * Proxy CPU per tunnel when tunnels come in bursts with pauses between them, as the peers benchmark
 * measures (1 s slices per peer, each peer idle while the others are measured), against the same load
 * without pauses:
 *
 *   node bench/burst-cpu.ts [--peer junction|bare] [--bursts 8] [--pause-ms 2500] [--seconds 3]
 *
 * One peer as bench/peers.ts starts it (junction: the built headless entry, `npm run build` first, with
 * 1,000 rules, statistics and the request log file), pinned to the proxy CPU; 32 workers open short
 * tunnels (CONNECT, 200, one `Connection: close` GET, close) for 1 s per burst. The proxy's CPU is read
 * from /proc around each burst only, so what it does in the pauses is not counted, but what a pause
 * leaves for the next burst to redo is (memory-return.ts says why that mattered).
 */
import { parseArgs } from 'node:util'
import { processTicks } from './cpu-usage.ts'
import { tunnelChurn, type Route } from './peers-load.ts'
import { startPeer, type ProxyName } from './peers-processes.ts'
import { pinSelfToLoadCpu } from './pinning.ts'
import { startChild, runScript } from './throughput.ts'

const { values } = parseArgs({
  options: {
    peer: { type: 'string', default: 'junction' },
    bursts: { type: 'string', default: '8' },
    'pause-ms': { type: 'string', default: '2500' },
    seconds: { type: 'string', default: '3' }
  }
})
const WORKERS = 32

/** Tunnels opened and proxy CPU µs per tunnel over `seconds` of load. */
async function measured(route: Route, pid: number, seconds: number): Promise<[number, number]> {
  const before = processTicks(pid)!
  const { completed } = await tunnelChurn(route, seconds, WORKERS)
  // /proc counts in clock ticks of 10 ms.
  return [completed, ((processTicks(pid)! - before) * 10_000) / completed]
}

async function main(): Promise<void> {
  const pinning = pinSelfToLoadCpu()
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  const peer = await startPeer(values.peer as ProxyName, pinning)
  try {
    const route = { proxyPort: peer.port, originPort: origin.port, dataPort: 0 }
    console.log(`${values.peer}; ${pinning.description}`)
    await tunnelChurn(route, 3, WORKERS)
    let tunnels = 0
    let cpuUs = 0
    for (let burst = 1; burst <= Number(values.bursts); burst++) {
      await new Promise((resolve) => setTimeout(resolve, Number(values['pause-ms'])))
      const [completed, perTunnel] = await measured(route, peer.pid, 1)
      tunnels += completed
      cpuUs += completed * perTunnel
      console.log(`burst ${burst}: ${completed} tunnels, ${perTunnel.toFixed(0)} µs/tunnel`)
    }
    console.log(`bursts: ${tunnels} tunnels, ${(cpuUs / tunnels).toFixed(1)} µs/tunnel`)
    const [completed, perTunnel] = await measured(route, peer.pid, Number(values.seconds))
    console.log(`without pauses: ${completed} tunnels, ${perTunnel.toFixed(1)} µs/tunnel`)
  } finally {
    await peer.stop()
    await origin.stop()
  }
}

runScript(main)
