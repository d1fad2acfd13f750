/**
 * The peers benchmark's second round in isolation: headless Junction warmed up as peers.ts warms it
 * (3 s of HTTP, 3 s of tunnels), then left idle while the other peers would warm up, then measured in
 * 1 s tunnel slices. Idle that long, its memory return runs (memory-return.ts) and the slices after it
 * pay for the code it throws away:
 *
 *   node bench/warm-gap.ts [--gap-ms 24000] [--rounds 4] [--http-first] [--flags=--some-v8-flag]
 *
 * Each round starts a fresh process per variant (the serve script's Node flags, and with `--flags`
 * also those flags added), in turn, the order reversed every round. `--http-first` puts five 1 s HTTP
 * slices before the tunnel slices, 4 s apart (the other peers' turns), as peers.ts does; the tunnel
 * slices are then 4 s apart too. `npm run build` first.
 */
import { parseArgs } from 'node:util'
import { servedNodeFlags } from './built-serve.ts'
import { processTicks } from './cpu-usage.ts'
import { tunnelChurn, wrkLoad, type Route } from './peers-load.ts'
import { startPeer, type ProxyPeer } from './peers-processes.ts'
import { pinSelfToLoadCpu } from './pinning.ts'
import { startChild, runScript } from './throughput.ts'

const { values } = parseArgs({
  options: {
    'gap-ms': { type: 'string', default: '24000' },
    rounds: { type: 'string', default: '4' },
    'http-first': { type: 'boolean', default: false },
    flags: { type: 'string' }
  }
})
const SLICES = 5
const OTHER_PEERS_MS = 4000
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** µs of the peer's CPU per operation over `run` (/proc counts in clock ticks of 10 ms). */
async function cpuPer(peer: ProxyPeer, run: () => Promise<{ completed: number }>): Promise<number> {
  const before = processTicks(peer.pid)!
  const { completed } = await run()
  return ((processTicks(peer.pid)! - before) * 10_000) / completed
}

/** One fresh process through the gap: its RSS before and after, and CPU per tunnel in each slice. */
async function oneRun(peer: ProxyPeer, route: Route): Promise<string> {
  await wrkLoad(route, 3, 64)
  await tunnelChurn(route, 3, 32)
  const rssBefore = peer.memory().rssMiB
  await sleep(Number(values['gap-ms']))
  const rssAfter = peer.memory().rssMiB
  let http = ''
  if (values['http-first']) {
    const perRequest: number[] = []
    for (let slice = 0; slice < SLICES; slice++) {
      perRequest.push(await cpuPer(peer, () => wrkLoad(route, 1, 64)))
      await sleep(OTHER_PEERS_MS)
    }
    http = `; HTTP ${perRequest.map((us) => us.toFixed(1)).join(' ')} µs/request`
  }
  const perTunnel: number[] = []
  for (let slice = 0; slice < SLICES; slice++) {
    perTunnel.push(await cpuPer(peer, () => tunnelChurn(route, 1, 32)))
    if (values['http-first']) await sleep(OTHER_PEERS_MS)
  }
  const mean = perTunnel.reduce((sum, us) => sum + us, 0) / SLICES
  return (
    `RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB over the gap${http}; ` +
    `tunnels ${perTunnel.map((us) => us.toFixed(0)).join(' ')} → ${mean.toFixed(1)} µs/tunnel`
  )
}

async function main(): Promise<void> {
  const pinning = pinSelfToLoadCpu()
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  const variants: [string, string[]][] = [['serve flags', servedNodeFlags()]]
  if (values.flags) variants.push([`+ ${values.flags}`, [...servedNodeFlags(), ...values.flags.split(/\s+/)]])
  console.log(
    `gap ${values['gap-ms']} ms${values['http-first'] ? ', HTTP slices first' : ''}; ${pinning.description}`
  )
  try {
    for (let round = 1; round <= Number(values.rounds); round++)
      for (const [label, flags] of round % 2 ? variants : [...variants].reverse()) {
        const peer = await startPeer('junction', pinning, undefined, flags)
        try {
          const route = { proxyPort: peer.port, originPort: origin.port, dataPort: 0 }
          console.log(`round ${round} ${label}: ${await oneRun(peer, route)}`)
        } finally {
          await peer.stop()
        }
      }
  } finally {
    await origin.stop()
  }
}

runScript(main)
