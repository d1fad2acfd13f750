/**
 * Multi-hop chains with real upstreams: squid (HTTP, basic auth), a second squid, microsocks (SOCKS5,
 * user/password) and an HTTPS proxy, each behind a counting relay so that the test sees every hop
 * carry the traffic. Plain HTTP and CONNECT + TLS to a local origin signed by the test CA.
 */
import net from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Profile, Upstream } from '../../common/model.ts'
import type { ProxyEngine } from '../../main/engine/engine.ts'
import { startSilentPeer, startUnreachablePeer, type SilentPeer } from '../harness/black-hole.ts'
import { connectTunnel, httpsGetViaProxy, proxyGet } from '../harness/client.ts'
import { startCountingRelay, type CountingRelay } from '../harness/counting-relay.ts'
import { openSockets } from '../harness/open-sockets.ts'
import { patternBytes } from '../harness/origin.ts'
import { startSquid, type Upstream as RunningUpstream } from '../harness/squid.ts'
import { testUpstream } from '../../main/services/upstream-test.ts'
import { SQUID_AUTH, startEngine, startWorld, type World } from './world.ts'

let world: World
let squidB: RunningUpstream
let silent: SilentPeer
/** One counting relay in front of each real hop. */
const relays: Record<'squid' | 'squidB' | 'socks' | 'https' | 'silent', CountingRelay> = {} as never
let engine: (ProxyEngine & { port: number }) | null = null

beforeAll(async () => {
  ;[world, squidB, silent] = await Promise.all([startWorld(), startSquid(SQUID_AUTH), startSilentPeer()])
  relays.squid = await startCountingRelay(world.squid.port)
  relays.squidB = await startCountingRelay(squidB.port)
  relays.socks = await startCountingRelay(world.socks.port)
  relays.https = await startCountingRelay(world.httpsUpstream.port)
  relays.silent = await startCountingRelay(silent.port)
}, 60_000)
afterAll(async () => {
  await Promise.all(Object.values(relays).map((r) => r.close()))
  await Promise.all([world?.close(), squidB?.close(), silent?.close()])
})
afterEach(async () => {
  await engine?.stop()
  engine = null
})

/** The world's upstream of that kind, addressed through its relay, optionally reached via `via`. */
function hop(id: string, kind: keyof typeof relays, via?: string): Upstream {
  const base =
    kind === 'squid' || kind === 'squidB'
      ? world.upstreams.squid
      : kind === 'socks'
        ? world.upstreams.socks5
        : kind === 'https'
          ? world.upstreams.https
          : { ...world.upstreams.squid, username: undefined, password: undefined }
  const { username: _u, password: _p, ...rest } = base
  return {
    ...rest,
    ...(base.username !== undefined ? { username: base.username, password: base.password } : {}),
    id,
    name: `${id} (${kind})`,
    port: relays[kind].port,
    ...(via ? { via } : {})
  } as Upstream
}

/** A profile sending everything to the last upstream of `chain`, listed first hop first. */
function chainProfile(chain: Upstream[]): Profile {
  return {
    id: 'chain',
    name: 'Chain',
    upstreams: chain,
    rules: [],
    defaultAction: { type: 'upstream', upstreamId: chain.at(-1)!.id }
  }
}

function counts(kinds: (keyof typeof relays)[]): number[] {
  return kinds.map((k) => relays[k].accepted)
}

/** Runs `send` once and returns how many connections each hop's relay accepted meanwhile. */
async function through(kinds: (keyof typeof relays)[], send: () => Promise<void>): Promise<number[]> {
  const before = counts(kinds)
  await send()
  return counts(kinds).map((n, i) => n - before[i]!)
}

const chains: { name: string; kinds: (keyof typeof relays)[] }[] = [
  { name: 'squid → microsocks', kinds: ['squid', 'socks'] },
  { name: 'microsocks → squid', kinds: ['socks', 'squid'] },
  { name: 'squid → squid → microsocks', kinds: ['squid', 'squidB', 'socks'] },
  { name: 'microsocks → HTTPS proxy', kinds: ['socks', 'https'] }
]

describe.each(chains)('chain $name', ({ kinds }) => {
  const build = (): Upstream[] => kinds.map((kind, i) => hop(`h${i + 1}`, kind, i > 0 ? `h${i}` : undefined))

  it('carries plain HTTP through every hop', async () => {
    engine = await startEngine({ profile: chainProfile(build()) })
    let res: Awaited<ReturnType<typeof proxyGet>> | null = null
    const used = await through(kinds, async () => {
      res = await proxyGet(engine!.port, `${world.origin.url}/echo`, { headers: { Connection: 'close' } })
    })
    expect(res!.status, res!.body.toString()).toBe(200)
    const echo = JSON.parse(res!.body.toString()) as { headers: Record<string, string> }
    // An HTTP proxy at the end adds its Via; a SOCKS one passes the request unchanged.
    if (kinds.at(-1) === 'squid') expect(echo.headers.via).toMatch(/squid/)
    expect(used).toEqual(kinds.map(() => 1))
  })

  it('carries CONNECT + TLS through every hop', async () => {
    engine = await startEngine({ profile: chainProfile(build()) })
    let body: Buffer = Buffer.alloc(0)
    const used = await through(kinds, async () => {
      const res = await httpsGetViaProxy(
        engine!.port,
        '127.0.0.1',
        world.tlsOrigin.port,
        '/bytes/70000',
        world.ca.certPem
      )
      expect(res.status).toBe(200)
      body = res.body
    })
    expect(body.equals(patternBytes(70000))).toBe(true)
    expect(used).toEqual(kinds.map(() => 1))
  })
})

describe('a hop that fails', () => {
  const deadMiddle = (): Upstream[] => [
    hop('first', 'squid'),
    { ...world.upstreams.dead, id: 'dead', name: 'Dead B', via: 'first' },
    hop('last', 'socks', 'dead')
  ]

  it('is named when a dead middle hop refuses (plain HTTP)', async () => {
    engine = await startEngine({ profile: chainProfile(deadMiddle()) })
    const res = await proxyGet(engine.port, `${world.origin.url}/echo`)
    expect(res.status).toBe(502)
    expect(res.headers['x-junction-error']).toBe('upstream-refused')
    expect(res.body.toString()).toContain(
      `hop 2 of 3 ("Dead B", http://127.0.0.1:${world.deadPort}) refused the connection`
    )
    expect(res.body.toString()).toContain('reported: 503')
  })

  it('is named when a dead middle hop refuses (CONNECT)', async () => {
    engine = await startEngine({ profile: chainProfile(deadMiddle()) })
    const res = await connectTunnel(engine.port, `127.0.0.1:${world.tlsOrigin.port}`)
    expect(res.status).toBe(502)
    expect(res.headers['x-junction-error']).toBe('upstream-refused')
    expect(res.body).toContain('hop 2 of 3 ("Dead B"')
  })

  it('is named when a SOCKS first hop reports the next one refused', async () => {
    const chain = [
      hop('first', 'socks'),
      { ...world.upstreams.dead, id: 'dead', name: 'Dead B', via: 'first' }
    ]
    engine = await startEngine({ profile: chainProfile(chain) })
    const res = await connectTunnel(engine.port, `127.0.0.1:${world.tlsOrigin.port}`)
    expect(res.status).toBe(502)
    expect(res.headers['x-junction-error']).toBe('upstream-refused')
    expect(res.body).toContain('hop 2 of 2 ("Dead B"')
    expect(res.body).toContain('ConnectionRefused')
  })

  it('names the hop whose name could not be resolved for a SOCKS hop', async () => {
    const chain = [hop('first', 'socks'), { ...hop('second', 'squid', 'first'), host: 'nowhere.test' }]
    engine = await startEngine({ profile: chainProfile(chain) })
    const res = await proxyGet(engine.port, `${world.origin.url}/echo`)
    expect(res.status).toBe(502)
    expect(res.headers['x-junction-error']).toBe('dns-failed')
    expect(res.body.toString()).toContain(
      'the host name of hop 2 of 2 ("second (squid)", http://nowhere.test:'
    )
  })

  it('names the hop whose credentials are wrong', async () => {
    const chain = [hop('first', 'squid'), { ...hop('second', 'socks', 'first'), password: 'wrong' }]
    engine = await startEngine({ profile: chainProfile(chain) })
    const res = await proxyGet(engine.port, `${world.origin.url}/echo`)
    expect(res.status).toBe(502)
    expect(res.headers['x-junction-error']).toBe('upstream-auth-failed')
    expect(res.body.toString()).toContain('hop 2 of 2 ("second (socks)"')
  })

  it('times out on a silent middle hop within the connect timeout, naming it', async () => {
    const chain = [
      hop('first', 'squid'),
      { ...hop('silent', 'silent', 'first'), name: 'Silent B' },
      hop('last', 'socks', 'silent')
    ]
    engine = await startEngine({ profile: chainProfile(chain), timeouts: { connectMs: 1500 } })
    const started = Date.now()
    const res = await connectTunnel(engine.port, `127.0.0.1:${world.tlsOrigin.port}`)
    const elapsed = Date.now() - started
    expect(res.status).toBe(504)
    expect(res.headers['x-junction-error']).toBe('upstream-timeout')
    expect(res.body).toContain('hop 2 of 3 ("Silent B"')
    expect(elapsed).toBeGreaterThanOrEqual(1400)
    expect(elapsed).toBeLessThan(6000)
  })

  it('says which hop was still connecting on when the time ran out', async () => {
    const unreachable = await startUnreachablePeer()
    try {
      const chain = [
        hop('first', 'squid'),
        { ...world.upstreams.dead, id: 'gone', name: 'Unreachable B', port: unreachable.port, via: 'first' }
      ]
      engine = await startEngine({ profile: chainProfile(chain), timeouts: { connectMs: 1500 } })
      const res = await proxyGet(engine.port, `${world.origin.url}/echo`)
      expect(res.status).toBe(504)
      expect(res.headers['x-junction-error']).toBe('upstream-timeout')
      expect(res.body.toString()).toContain(
        `hop 1 of 2 ("first (squid)", http://127.0.0.1:${relays.squid.port}) did not answer within 1.5 s while connecting on to hop 2 of 2 ("Unreachable B"`
      )
    } finally {
      await unreachable.close()
    }
  })

  it('gives up the chain as soon as the client leaves', async () => {
    const chain = [hop('first', 'squid'), hop('silent', 'silent', 'first'), hop('last', 'socks', 'silent')]
    engine = await startEngine({ profile: chainProfile(chain), timeouts: { connectMs: 20_000 } })
    const before = relays.silent.accepted
    const client = net.connect(engine.port, '127.0.0.1')
    client.on('error', () => {})
    const target = `127.0.0.1:${world.tlsOrigin.port}`
    client.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`)
    // The chain reaches the silent hop through squid, then waits for its answer.
    await waitFor(() => relays.silent.accepted === before + 1, 5000)
    expect(openSockets([{ remotePort: relays.squid.port }])).toBe(1)
    client.destroy()
    // Far sooner than the 20 s connect timeout: Junction closes its end, and squid then its own.
    await waitFor(() => openSockets([{ remotePort: relays.squid.port }]) === 0, 3000)
    await waitFor(() => relays.silent.open === 0, 5000)
  })
})

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('after many chained tunnels', () => {
  it('leaves no socket open to the first hop, whether they succeeded or failed', async () => {
    const good = [hop('first', 'squid'), hop('second', 'socks', 'first')]
    const dead = [hop('first', 'squid'), { ...world.upstreams.dead, id: 'dead', name: 'Dead', via: 'first' }]
    const toFirstHop = (): number => openSockets([{ remotePort: relays.squid.port }])
    engine = await startEngine({ profile: chainProfile(good) })
    for (let i = 0; i < 20; i++) {
      const res = await httpsGetViaProxy(
        engine.port,
        '127.0.0.1',
        world.tlsOrigin.port,
        '/bytes/10',
        world.ca.certPem
      )
      expect(res.status).toBe(200)
    }
    engine.applyProfile(chainProfile(dead))
    for (let i = 0; i < 20; i++) {
      const res = await connectTunnel(engine.port, `127.0.0.1:${world.tlsOrigin.port}`)
      expect(res.status).toBe(502)
    }
    await waitFor(() => toFirstHop() === 0, 5000)
  })
})

describe("an upstream's Test", () => {
  it('goes through its chain, and names the hop that failed', async () => {
    const chain = [hop('first', 'squid'), hop('second', 'socks', 'first')]
    const before = counts(['squid', 'socks'])
    const passed = await testUpstream(chain[1]!, `${world.origin.url}/echo`, 10_000, chain)
    expect(passed).toMatchObject({ ok: true, status: 200 })
    expect(counts(['squid', 'socks'])).toEqual(before.map((n) => n + 1))
    const broken = [{ ...chain[0]!, port: world.deadPort }, chain[1]!]
    const failed = await testUpstream(chain[1]!, `${world.origin.url}/echo`, 10_000, broken)
    expect(failed.ok).toBe(false)
    expect(failed.error).toContain(`hop 1 of 2 ("first (squid)", http://127.0.0.1:${world.deadPort}) refused`)
  })
})
