/**
 * `node scripts/run-ts.mjs bench/chains.ts [--tunnels N] [--requests N] [--shares N]`: what a chain
 * of upstreams costs, against real Debian squid and microsocks on loopback, and what shared ports cost.
 *
 * - New CONNECT tunnels, each with a TLS handshake and a 1-byte GET, one after another, through one
 *   squid (proxy-chain's path), squid → microsocks and squid → squid → microsocks (Junction's chains):
 *   median and 95th percentile per tunnel.
 * - Plain-HTTP requests (a new client connection each) through the 3-hop chain: median, and how many
 *   chains were built (connections the first hop accepted), which shows the pool reusing them.
 * - Open file descriptors of this process before and 1 s after those, to see nothing is left behind.
 * - Shared ports: time to open one, and resident memory before and after opening `--shares` of them.
 *
 * One run, one machine: the figures swing ±20 % with the machine's other load.
 */
import { parseArgs } from 'node:util'
import type { Profile, Upstream } from '../common/model.ts'
import { ProxyEngine } from '../main/engine/engine.ts'
import { SharedPorts } from '../main/services/shared-ports.ts'
import { createTestCa } from '../test/harness/ca.ts'
import { httpsGetViaProxy, proxyGet } from '../test/harness/client.ts'
import { startCountingRelay } from '../test/harness/counting-relay.ts'
import { startMicrosocks } from '../test/harness/microsocks.ts'
import { openDescriptors } from '../test/harness/open-sockets.ts'
import { startOrigin } from '../test/harness/origin.ts'
import { startSquid } from '../test/harness/squid.ts'
import { rssKiB } from './proc.ts'

const { values } = parseArgs({
  options: {
    tunnels: { type: 'string', default: '200' },
    requests: { type: 'string', default: '500' },
    shares: { type: 'string', default: '10' }
  }
})
const TUNNELS = Math.min(Number(values.tunnels), 5000)
const REQUESTS = Math.min(Number(values.requests), 20_000)
const SHARES = Math.min(Number(values.shares), 32)

const AUTH = { username: 'bench', password: 'bench-pass' }
const ca = await createTestCa()
const [origin, tlsOrigin, squidA, squidB, socks] = await Promise.all([
  startOrigin(),
  startOrigin({ tls: await ca.issue(['127.0.0.1']) }),
  startSquid(AUTH),
  startSquid(AUTH),
  startMicrosocks(AUTH)
])
const firstHop = await startCountingRelay(squidA.port)

const up = (id: string, scheme: Upstream['scheme'], port: number, via?: string): Upstream => ({
  id,
  name: id,
  scheme,
  host: '127.0.0.1',
  port,
  ...AUTH,
  ...(via ? { via } : {})
})
const profile = (upstreams: Upstream[]): Profile => ({
  id: 'bench',
  name: 'bench',
  upstreams,
  rules: [],
  defaultAction: { type: 'upstream', upstreamId: upstreams.at(-1)!.id }
})
const configs: [string, Upstream[]][] = [
  ['squid (proxy-chain path)', [up('a', 'http', firstHop.port)]],
  ['squid → microsocks', [up('a', 'http', firstHop.port), up('s', 'socks5', socks.port, 'a')]],
  [
    'squid → squid → microsocks',
    [up('a', 'http', firstHop.port), up('b', 'http', squidB.port, 'a'), up('s', 'socks5', socks.port, 'b')]
  ]
]

function quantiles(samples: number[]): string {
  const sorted = [...samples].sort((x, y) => x - y)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return `median ${at(0.5).toFixed(2)} ms, p95 ${at(0.95).toFixed(2)} ms (n=${sorted.length})`
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const fdsBefore = openDescriptors()
try {
  for (const [name, upstreams] of configs) {
    const engine = new ProxyEngine({ port: 0, profile: profile(upstreams) })
    await engine.start()
    const times: number[] = []
    for (let i = 0; i < TUNNELS; i++) {
      const started = performance.now()
      const res = await httpsGetViaProxy(engine.port!, '127.0.0.1', tlsOrigin.port, '/bytes/1', ca.certPem)
      if (res.status !== 200) throw new Error(`${name}: tunnel answered ${res.status}`)
      times.push(performance.now() - started)
    }
    console.log(`CONNECT + TLS + GET, new tunnel each, ${name}: ${quantiles(times)}`)
    if (upstreams.length === 3) {
      const accepted = firstHop.accepted
      const plain: number[] = []
      for (let i = 0; i < REQUESTS; i++) {
        const started = performance.now()
        const res = await proxyGet(engine.port!, `${origin.url}/bytes/1`)
        if (res.status !== 200) throw new Error(`plain HTTP answered ${res.status}`)
        plain.push(performance.now() - started)
      }
      console.log(
        `plain HTTP GET, new client connection each, ${name}: ${quantiles(plain)}; chains built: ${firstHop.accepted - accepted}`
      )
    }
    await engine.stop()
  }
  await settle(1000)
  console.log(`open file descriptors of this process: ${fdsBefore} before, ${openDescriptors()} after`)

  const shared = new SharedPorts(() => ({}))
  const chain = configs[2]![1]
  const rssBefore = rssKiB(process.pid)
  const opening: number[] = []
  for (let i = 0; i < SHARES; i++) {
    const started = performance.now()
    const result = await shared.share(profile(chain), 's')
    if (!result.ok) throw new Error(result.error.message)
    opening.push(performance.now() - started)
  }
  const one = shared.list()[0]!
  const through = await proxyGet(one.port, `${origin.url}/bytes/1`)
  if (through.status !== 200) throw new Error(`shared port answered ${through.status}`)
  console.log(`opening a shared port: ${quantiles(opening)}`)
  console.log(
    `resident memory: ${(rssBefore / 1024).toFixed(1)} MiB before, ${(rssKiB(process.pid) / 1024).toFixed(1)} MiB with ${SHARES} shared ports`
  )
  await shared.stopAll()
} finally {
  await firstHop.close()
  await Promise.all([origin.close(), tlsOrigin.close(), squidA.close(), squidB.close(), socks.close()])
}
