/**
 * Upstream groups with real upstreams: two Debian squids (basic auth), a black hole (accepts, never
 * answers), a dead port, TCP listeners of the test's own that count attempts or reset, and a
 * forwarder that adds 100 ms of round trip in front of one squid.
 */
import { promises as fs } from 'node:fs'
import tls from 'node:tls'
import { createServer } from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GroupStatus, UpstreamTestRow } from '../../common/ipc-contract.ts'
import type { NamedRequestLogEntry, Profile, Upstream, UpstreamGroup } from '../../common/model.ts'
import type { Result } from '../../common/result.ts'
import { startRuntime } from '../../main/app/runtime.ts'
import { dispatch } from '../../main/services/dispatch.ts'
import type { ProxyEngine } from '../../main/engine/engine.ts'
import { probeLatency } from '../../main/services/upstream-test.ts'
import { RequestRing } from '../../main/stats/request-log.ts'
import { TrafficStats } from '../../main/stats/traffic-stats.ts'
import { startSilentPeer, type SilentPeer } from '../harness/black-hole.ts'
import { createTestCa } from '../harness/ca.ts'
import { startHttpsUpstream } from '../harness/https-upstream.ts'
import { startMicrosocks } from '../harness/microsocks.ts'
import { connectTunnel, httpsGetViaProxy, proxyGet } from '../harness/client.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { openSockets } from '../harness/open-sockets.ts'
import { closedPort } from '../harness/ports.ts'
import { startSquid, type Upstream as RunningUpstream } from '../harness/squid.ts'
import { startTcpForwarder, type TcpForwarder } from '../harness/tcp-forwarder.ts'
import { SQUID_AUTH, startEngine } from './world.ts'

let origin: Origin
let squidA: RunningUpstream
let squidB: RunningUpstream
let blackHole: SilentPeer
let deadPort: number
const open: { close(): Promise<unknown> }[] = []

beforeAll(async () => {
  ;[origin, squidA, squidB, blackHole, deadPort] = await Promise.all([
    startOrigin(),
    startSquid(SQUID_AUTH),
    startSquid(SQUID_AUTH),
    startSilentPeer(),
    closedPort()
  ])
}, 60_000)
afterAll(async () => {
  await Promise.all(open.map((o) => o.close()))
  await Promise.all([origin?.close(), squidA?.close(), squidB?.close(), blackHole?.close()])
})

const http = (id: string, port: number): Upstream => ({
  id,
  name: `Upstream ${id}`,
  scheme: 'http',
  host: '127.0.0.1',
  port,
  ...SQUID_AUTH
})

function groupProfile(upstreams: Upstream[], group: Omit<UpstreamGroup, 'id' | 'name'>): Profile {
  return {
    id: `groups-${Math.random().toString(36).slice(2, 8)}`,
    name: 'Groups',
    upstreams,
    groups: [{ id: 'g', name: 'Work', ...group }],
    rules: [],
    defaultAction: { type: 'upstream', upstreamId: 'g' }
  }
}

interface Running {
  engine: ProxyEngine & { port: number }
  ring: RequestRing
  /** Route labels of the finished requests, oldest first. */
  routes(): string[]
}

async function start(profile: Profile, options: Parameters<typeof startEngine>[0] = {}): Promise<Running> {
  const ring = new RequestRing(1000)
  const engine = await startEngine({ profile, stats: new TrafficStats({ ring }), ...options })
  open.push({ close: () => engine.stop() })
  return {
    engine,
    ring,
    routes: () =>
      ring
        .list()
        .map((e) => e.route)
        .reverse()
  }
}

/** A GET through the engine, with how long it took. */
async function timedGet(port: number, path = '/echo'): Promise<{ status: number; ms: number }> {
  const started = performance.now()
  const res = await proxyGet(port, `${origin.url}${path}`)
  return { status: res.status, ms: performance.now() - started }
}

/** A CONNECT to the origin, then a GET inside the tunnel; the answer's status line. */
async function getThroughTunnel(port: number): Promise<{ status: number; inner: string; ms: number }> {
  const started = performance.now()
  const tunnel = await connectTunnel(port, `127.0.0.1:${origin.port}`)
  if (tunnel.status !== 200)
    return { status: tunnel.status, inner: tunnel.body, ms: performance.now() - started }
  const inner = await new Promise<string>((resolve, reject) => {
    let text = ''
    tunnel.socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      if (text.includes('\r\n\r\n')) resolve(text.split('\r\n')[0]!)
    })
    tunnel.socket.once('error', reject)
    tunnel.socket.write(`GET /echo HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nConnection: close\r\n\r\n`)
  })
  tunnel.socket.destroy()
  return { status: 200, inner, ms: performance.now() - started }
}

describe('failover group [dead port, black hole, squid]', () => {
  const CONNECT_MS = 2000
  const members = () => [http('dead', deadPort), http('hole', blackHole.port), http('squid', squidA.port)]
  const failover = () => groupProfile(members(), { strategy: 'failover', members: ['dead', 'hole', 'squid'] })

  it('carries plain HTTP through squid within about the black hole’s connect timeout, then skips the dead members', async () => {
    const { engine, routes } = await start(failover(), { timeouts: { connectMs: CONNECT_MS } })
    const first = await timedGet(engine.port)
    expect(first.status).toBe(200)
    // It waited for the black hole (so it tried it), and not much longer.
    expect(first.ms).toBeGreaterThanOrEqual(CONNECT_MS - 100)
    expect(first.ms).toBeLessThan(CONNECT_MS + 3000)
    // Both dead members are down now: the next request goes to squid without waiting.
    const second = await timedGet(engine.port)
    expect(second.status).toBe(200)
    expect(second.ms).toBeLessThan(CONNECT_MS - 500)
    console.log(
      `GET via [dead port, black hole, squid], connect timeout ${CONNECT_MS} ms: first ${Math.round(first.ms)} ms, next ${Math.round(second.ms)} ms`
    )
    // Statistics name the member that carried each request.
    expect(routes()).toEqual(['squid@g', 'squid@g'])
    const health = engine.upstreamHealth
    expect(health.isUp('dead')).toBe(false)
    expect(health.isUp('hole')).toBe(false)
    expect(health.get('hole').lastError).toMatch(/"Upstream hole" .* sent nothing within 2 s/)
  })

  it('opens a CONNECT tunnel through squid within about the black hole’s connect timeout', async () => {
    const { engine, routes } = await start(failover(), { timeouts: { connectMs: CONNECT_MS } })
    const first = await getThroughTunnel(engine.port)
    expect(first.status).toBe(200)
    expect(first.inner).toBe('HTTP/1.1 200 OK')
    expect(first.ms).toBeGreaterThanOrEqual(CONNECT_MS - 100)
    expect(first.ms).toBeLessThan(CONNECT_MS + 3000)
    const second = await getThroughTunnel(engine.port)
    expect(second.inner).toBe('HTTP/1.1 200 OK')
    expect(second.ms).toBeLessThan(CONNECT_MS - 500)
    console.log(
      `CONNECT via [dead port, black hole, squid], connect timeout ${CONNECT_MS} ms: first ${Math.round(first.ms)} ms, next ${Math.round(second.ms)} ms`
    )
    // Tunnels are logged when they close.
    await expect.poll(() => routes()).toEqual(['squid@g', 'squid@g'])
  })
})

describe('an intercepted tunnel through a group', () => {
  it('answers the client at once, and its requests fail over inside the TLS', async () => {
    const [targetCa, junctionCa] = await Promise.all([createTestCa(), createTestCa()])
    const tlsOrigin = await startOrigin({ tls: await targetCa.issue(['localhost']) })
    open.push(tlsOrigin)
    const issuer = {
      contextFor: async (host: string) => {
        const { keyPem, certPem } = await junctionCa.issue([host])
        return tls.createSecureContext({ key: keyPem, cert: certPem })
      }
    }
    const profile: Profile = {
      ...groupProfile([http('dead', deadPort), http('squid', squidA.port)], {
        strategy: 'failover',
        members: ['dead', 'squid']
      }),
      rules: [
        {
          id: 'inspect',
          enabled: true,
          matchers: [{ type: 'host', value: 'localhost' }],
          action: { type: 'upstream', upstreamId: 'g' },
          intercept: true,
          rewrite: { response: [{ op: 'set', name: 'X-Intercepted', value: 'yes' }] }
        }
      ]
    }
    const { engine, routes } = await start(profile, { authority: issuer, trustedCas: [targetCa.certPem] })
    const res = await httpsGetViaProxy(engine.port, 'localhost', tlsOrigin.port, '/echo', junctionCa.certPem)
    expect(res.status).toBe(200)
    expect(res.headers['x-intercepted']).toBe('yes')
    expect(engine.upstreamHealth.isUp('dead')).toBe(false)
    expect(engine.upstreamHealth.get('dead').lastError).toMatch(/refused the connection/)
    // The tunnel is logged, when it closes, with the member that carried its request.
    await expect.poll(() => routes()).toEqual(['squid@g'])
    // The next tunnel's requests skip the member found down.
    const again = await httpsGetViaProxy(
      engine.port,
      'localhost',
      tlsOrigin.port,
      '/echo',
      junctionCa.certPem
    )
    expect(again.status).toBe(200)
    expect(engine.upstreamHealth.get('dead').failures).toBe(1)
  })
})

describe('many clients at once', () => {
  it('50 CONNECTs through [black hole, squid] all reach squid, and no socket is left behind', async () => {
    // A port of this test's own in front of squid, so that only this engine's sockets are counted.
    const toSquid = await startTcpForwarder({ targetPort: squidA.port })
    open.push(toSquid)
    const profile = groupProfile([http('hole', blackHole.port), http('squid', toSquid.port)], {
      strategy: 'failover',
      members: ['hole', 'squid']
    })
    const { engine } = await start(profile, { timeouts: { connectMs: 1500 } })
    const engineSockets = (): number =>
      openSockets([{ localPort: engine.port }, { remotePort: toSquid.port }])
    const started = performance.now()
    const tunnels = await Promise.all(
      Array.from({ length: 50 }, () => connectTunnel(engine.port, `127.0.0.1:${origin.port}`))
    )
    const ms = Math.round(performance.now() - started)
    expect(tunnels.map((t) => t.status)).toEqual(Array(50).fill(200))
    // Every attempt on the black hole was given up: its sockets are closed, the tunnels' are open.
    expect(openSockets([{ remotePort: blackHole.port }])).toBe(0)
    const whileOpen = engineSockets()
    expect(whileOpen).toBe(100)
    for (const tunnel of tunnels) tunnel.socket.destroy()
    await expect.poll(engineSockets).toBe(0)
    console.log(
      `50 CONNECTs via [black hole, squid], connect timeout 1500 ms: all open after ${ms} ms; ${whileOpen} engine sockets while open, 0 after the clients left`
    )
    expect(ms).toBeLessThan(1500 + 4000)
  })
})

describe('clients that leave during a failover', () => {
  it('free every socket at once, and say nothing about the member they were waiting on', async () => {
    const profile = groupProfile([http('hole', blackHole.port), http('squid', squidA.port)], {
      strategy: 'failover',
      members: ['hole', 'squid']
    })
    const { engine } = await start(profile, { timeouts: { connectMs: 10_000 } })
    const clients = Array.from({ length: 20 }, () => {
      const socket = net.connect(engine.port, '127.0.0.1')
      socket.on('error', () => undefined)
      socket.write(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`)
      return socket
    })
    await expect.poll(() => openSockets([{ remotePort: blackHole.port }])).toBe(20)
    const left = performance.now()
    for (const client of clients) client.destroy()
    await expect.poll(() => openSockets([{ remotePort: blackHole.port }, { localPort: engine.port }])).toBe(0)
    const ms = Math.round(performance.now() - left)
    console.log(`20 CONNECTs waiting on a black hole member, clients left: all sockets freed after ${ms} ms`)
    expect(ms).toBeLessThan(2000)
    // Nobody waited the member out: it is not marked down.
    expect(engine.upstreamHealth.get('hole').failures).toBe(0)
  })
})

describe('members that fail their handshake', () => {
  it('moves past a SOCKS member that refuses the credentials and an HTTPS member with an untrusted certificate', async () => {
    const ca = await createTestCa()
    const [socks, tlsProxy] = await Promise.all([
      startMicrosocks({ username: 'socks-user', password: 'right' }),
      startHttpsUpstream({ ...(await ca.issue(['127.0.0.1'])), username: 'tls', password: 'tls' })
    ])
    open.push(socks, tlsProxy)
    const members: Upstream[] = [
      {
        id: 'socks',
        name: 'Socks',
        scheme: 'socks5',
        host: '127.0.0.1',
        port: socks.port,
        username: 'socks-user',
        password: 'wrong'
      },
      // No `ca`: the test CA that issued its certificate is not trusted.
      {
        id: 'tls',
        name: 'TLS',
        scheme: 'https',
        host: '127.0.0.1',
        port: tlsProxy.port,
        username: 'tls',
        password: 'tls'
      },
      http('squid', squidA.port)
    ]
    const profile = () => groupProfile(members, { strategy: 'failover', members: ['socks', 'tls', 'squid'] })
    const plain = await start(profile())
    expect((await timedGet(plain.engine.port)).status).toBe(200)
    expect(plain.engine.upstreamHealth.get('socks').lastError).toMatch(
      /rejected Junction's username or password/
    )
    expect(plain.engine.upstreamHealth.get('tls').lastError).toMatch(
      /certificate of upstream proxy "TLS" .* is not valid: it was issued by an unknown authority/
    )
    const tunnel = await start(profile())
    expect((await getThroughTunnel(tunnel.engine.port)).inner).toBe('HTTP/1.1 200 OK')
    expect(tunnel.engine.upstreamHealth.isUp('socks')).toBe(false)
    expect(tunnel.engine.upstreamHealth.isUp('tls')).toBe(false)
    await expect.poll(() => tunnel.routes()).toEqual(['squid@g'])
  })
})

describe('passive health', () => {
  it('does not retry a failed member until its back-off ends, and doubles the back-off', async () => {
    const refuser = await startTcpForwarder({ targetPort: squidA.port, mode: 'reset' })
    open.push(refuser)
    const profile = groupProfile([http('refuser', refuser.port), http('squid', squidA.port)], {
      strategy: 'failover',
      members: ['refuser', 'squid']
    })
    const { engine, routes } = await start(profile, { memberBackoff: { initialMs: 1500, maxMs: 60_000 } })
    const failedAt = performance.now()
    expect((await timedGet(engine.port)).status).toBe(200)
    expect(refuser.accepted).toBe(1)
    for (let i = 0; i < 5; i++) expect((await timedGet(engine.port)).status).toBe(200)
    // Within its back-off the refusing member was not tried again.
    expect(performance.now() - failedAt).toBeLessThan(1500)
    expect(refuser.accepted).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 1600 - (performance.now() - failedAt)))
    expect((await timedGet(engine.port)).status).toBe(200)
    expect(refuser.accepted).toBe(2)
    // Failed again: skipped for twice as long (3 s) now.
    for (let i = 0; i < 3; i++) expect((await timedGet(engine.port)).status).toBe(200)
    expect(refuser.accepted).toBe(2)
    expect(engine.upstreamHealth.get('refuser').failures).toBe(2)
    expect(new Set(routes())).toEqual(new Set(['squid@g']))
  })

  it('still tries members that are all down, and a success brings one back up', async () => {
    const flaky = await startTcpForwarder({ targetPort: squidA.port, mode: 'reset' })
    open.push(flaky)
    const profile = groupProfile([http('flaky', flaky.port)], { strategy: 'failover', members: ['flaky'] })
    const { engine } = await start(profile, { memberBackoff: { initialMs: 60_000, maxMs: 60_000 } })
    const failed = await proxyGet(engine.port, `${origin.url}/echo`)
    expect(failed.status).toBe(502)
    expect(failed.headers['x-junction-error']).toBe('upstream-reset')
    expect(engine.upstreamHealth.isUp('flaky')).toBe(false)
    // The only member is down for a minute, but it works again: it is tried anyway.
    flaky.mode = 'forward'
    expect((await timedGet(engine.port)).status).toBe(200)
    expect(engine.upstreamHealth.isUp('flaky')).toBe(true)
    expect(engine.upstreamHealth.get('flaky').failures).toBe(0)
  })
})

describe('a member that goes quiet after taking a request', () => {
  it('is left alone when it answered lately (a slow target), moved past when it never has', async () => {
    // A target that takes 1.5 s to start its answer, behind squid; the connect timeout is 1 s.
    const slowTarget = createServer((_req, res) => void setTimeout(() => res.end('late'), 1500))
    await new Promise<void>((resolve) => slowTarget.listen(0, '127.0.0.1', resolve))
    open.push({ close: () => new Promise((resolve) => slowTarget.close(resolve)) })
    const slowUrl = `http://127.0.0.1:${(slowTarget.address() as net.AddressInfo).port}/`
    const profile = () =>
      groupProfile([http('a', squidA.port), http('b', squidB.port)], {
        strategy: 'failover',
        members: ['a', 'b']
      })
    const options = { timeouts: { connectMs: 1000 } }

    const warm = await start(profile(), options)
    expect((await timedGet(warm.engine.port)).status).toBe(200)
    const late = await proxyGet(warm.engine.port, slowUrl)
    expect(late.body.toString()).toBe('late')
    expect(warm.routes()).toEqual(['a@g', 'a@g'])
    expect(warm.engine.upstreamHealth.isUp('a')).toBe(true)

    // A fresh engine knows nothing of `a`: its silence past the connect timeout hands the GET to `b`.
    const cold = await start(profile(), options)
    const moved = await proxyGet(cold.engine.port, slowUrl)
    expect(moved.body.toString()).toBe('late')
    expect(cold.routes()).toEqual(['b@g'])
    expect(cold.engine.upstreamHealth.get('a').lastError).toMatch(/sent nothing within 1 s/)
  })
})

describe('request bodies', () => {
  /** An upstream that reads one request whole (head and Content-Length body), records it, then resets. */
  async function startBodyResetter(): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
    const seen: string[] = []
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined)
      let data = ''
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString('latin1')
        const end = data.indexOf('\r\n\r\n')
        if (end === -1) return
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(data.slice(0, end))?.[1] ?? 0)
        if (data.length < end + 4 + length) return
        seen.push(`${data.split(' ', 1)[0]} ${data.slice(end + 4, end + 4 + length)}`)
        socket.resetAndDestroy()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return {
      port: (server.address() as net.AddressInfo).port,
      seen,
      close: () => new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }

  it('never sends a POST body again to the next member; an idempotent GET moves on', async () => {
    const resetter = await startBodyResetter()
    open.push(resetter)
    const members = [http('resetter', resetter.port), http('squid', squidA.port)]
    const profile = groupProfile(members, { strategy: 'failover', members: ['resetter', 'squid'] })
    const uploadsBefore = origin.requests.filter((r) => r.url === '/upload').length
    const { engine } = await start(profile)
    const post = await proxyGet(engine.port, `${origin.url}/upload`, { method: 'POST', body: 'order #1' })
    expect(post.status).toBe(502)
    expect(post.headers['x-junction-error']).toBe('upstream-reset')
    expect(resetter.seen).toEqual(['POST order #1'])
    // The body reached the first member only: squid never forwarded it to the origin.
    expect(origin.requests.filter((r) => r.url === '/upload').length).toBe(uploadsBefore)

    // A fresh engine (the resetter is up again there): a GET it resets is sent on to squid.
    const { engine: second, routes } = await start(
      groupProfile(members, { strategy: 'failover', members: ['resetter', 'squid'] })
    )
    expect((await timedGet(second.port)).status).toBe(200)
    expect(resetter.seen).toEqual(['POST order #1', 'GET '])
    expect(routes()).toEqual(['squid@g'])
  })
})

describe('round-robin', () => {
  it('splits 200 requests evenly (±10 %) across two squids', async () => {
    const profile = groupProfile([http('a', squidA.port), http('b', squidB.port)], {
      strategy: 'round-robin',
      members: ['a', 'b']
    })
    const { engine, routes } = await start(profile)
    // Five clients at a time, 200 requests in all.
    let next = 0
    const client = async (): Promise<void> => {
      while (next < 200) {
        next++
        expect((await proxyGet(engine.port, `${origin.url}/echo`)).status).toBe(200)
      }
    }
    await Promise.all(Array.from({ length: 5 }, client))
    const counts = { a: 0, b: 0 }
    for (const route of routes()) counts[({ 'a@g': 'a', 'b@g': 'b' } as const)[route as 'a@g' | 'b@g']]++
    console.log(`round-robin, 200 GETs from 5 clients: a ${counts.a}, b ${counts.b}`)
    expect(counts.a + counts.b).toBe(200)
    expect(counts.a).toBeGreaterThanOrEqual(90)
    expect(counts.a).toBeLessThanOrEqual(110)
  })
})

describe('lowest-latency', () => {
  let slow: TcpForwarder
  beforeAll(async () => {
    // 50 ms each way: 100 ms more per round trip than squid B answered directly.
    slow = await startTcpForwarder({ targetPort: squidB.port, delayMs: 50 })
    open.push(slow)
  })

  it('measures its members while it carries traffic and then prefers the faster one', async () => {
    const profile = groupProfile([http('slow', slow.port), http('fast', squidB.port)], {
      strategy: 'lowest-latency',
      members: ['slow', 'fast'],
      testUrl: `${origin.url}/status/204`
    })
    const { engine, routes } = await start(profile, { probe: probeLatency })
    const health = engine.upstreamHealth
    // Idle: nothing measured.
    expect(health.get('slow').measuredAt).toBeNull()
    // Unmeasured, the group keeps its order: the first request goes to `slow` and starts measuring.
    expect((await timedGet(engine.port)).status).toBe(200)
    await expect
      .poll(() => [health.get('slow').latencyMs, health.get('fast').latencyMs].every((l) => l !== null), {
        timeout: 15_000
      })
      .toBe(true)
    const slowMs = health.get('slow').latencyMs!
    const fastMs = health.get('fast').latencyMs!
    console.log(`lowest-latency measurements: slow (+100 ms round trip) ${slowMs} ms, fast ${fastMs} ms`)
    expect(slowMs - fastMs).toBeGreaterThanOrEqual(60)
    const measuredAt = health.get('fast').measuredAt
    for (let i = 0; i < 10; i++) expect((await timedGet(engine.port)).status).toBe(200)
    expect(routes().slice(1)).toEqual(Array(10).fill('fast@g'))
    // Within the interval (5 minutes by default) traffic starts no new measurement.
    expect(health.get('fast').measuredAt).toBe(measuredAt)
  })
})

describe('manual', () => {
  it('sends everything to the selected member, and only to it', async () => {
    const refuser = await startTcpForwarder({ targetPort: squidA.port, mode: 'reset' })
    open.push(refuser)
    const members = [http('a', squidA.port), http('b', squidB.port), http('broken', refuser.port)]
    const { engine, routes } = await start(
      groupProfile(members, { strategy: 'manual', members: ['a', 'b', 'broken'], selected: 'b' })
    )
    for (let i = 0; i < 3; i++) expect((await timedGet(engine.port)).status).toBe(200)
    expect(routes()).toEqual(['b@g', 'b@g', 'b@g'])
    // The user picked a member that fails: Junction says so rather than going elsewhere.
    engine.applyProfile({
      ...engine.profile,
      groups: [{ ...engine.profile.groups![0]!, selected: 'broken' }]
    })
    const res = await proxyGet(engine.port, `${origin.url}/echo`)
    expect(res.status).toBe(502)
    expect(refuser.accepted).toBe(1)
  })
})

describe('the contract: group status, manual selection, Test all', () => {
  it('runs through dispatch as the UI calls it', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-groups-'))
    const app = await startRuntime({ dataDir, port: 0, log: () => undefined })
    open.push({
      close: async () => (await app.stop(), await fs.rm(dataDir, { recursive: true, force: true }))
    })
    const call = async <T>(name: string, ...args: unknown[]): Promise<Result<T>> =>
      (await dispatch(app.service, name, args)) as Result<T>
    const value = async <T>(name: string, ...args: unknown[]): Promise<T> => {
      const result = await call<T>(name, ...args)
      if (!result.ok) throw new Error(`${name}: ${result.error.message}`)
      return result.value
    }
    const profile: Profile = {
      id: 'work',
      name: 'Work',
      upstreams: [http('a', squidA.port), http('b', squidB.port), http('dead', deadPort)],
      groups: [
        { id: 'pick', name: 'Pick', strategy: 'manual', members: ['a', 'b'] },
        { id: 'safe', name: 'Safe', strategy: 'failover', members: ['dead', 'a'] }
      ],
      rules: [
        {
          id: 'via-safe',
          enabled: true,
          matchers: [{ type: 'path', value: '/status/' }],
          action: { type: 'upstream', upstreamId: 'safe' }
        }
      ],
      defaultAction: { type: 'upstream', upstreamId: 'pick' }
    }
    await value('saveProfile', profile)
    await value('setActiveProfile', 'work')
    const port = app.engine.port!

    // Manual: the first member until one is picked, then the picked one.
    expect((await proxyGet(port, `${origin.url}/echo`)).status).toBe(200)
    const saved = await value<Profile>('selectGroupMember', 'work', 'pick', 'b')
    expect(saved.groups![0]!.selected).toBe('b')
    expect((await proxyGet(port, `${origin.url}/echo`)).status).toBe(200)
    // Failover: the dead member is skipped and shows as down with its error.
    expect((await proxyGet(port, `${origin.url}/status/204`)).status).toBe(204)
    const log = await value<NamedRequestLogEntry[]>('getRequestLog', { limit: 3 })
    expect(log.map((e) => e.routeName)).toEqual([
      'Upstream a (group Safe)',
      'Upstream b (group Pick)',
      'Upstream a (group Pick)'
    ])
    const status = await value<GroupStatus[]>('getGroupStatus', 'work')
    expect(status[0]).toMatchObject({ groupId: 'pick', current: 'b' })
    expect(status[1]!.current).toBe('a')
    expect(status[1]!.members[0]).toMatchObject({ upstreamId: 'dead', state: 'down', failures: 1 })
    expect(status[1]!.members[0]!.lastError).toMatch(/"Upstream dead" .*refused the connection/)

    // Test all: every upstream once; the figures reach the running profile's health.
    const rows = await value<UpstreamTestRow[]>('testUpstreams', 'work', `${origin.url}/status/204`)
    expect(rows.map((r) => [r.upstreamId, r.result.ok])).toEqual([
      ['a', true],
      ['b', true],
      ['dead', false]
    ])
    expect(rows[2]!.result.error).toMatch(/refused the connection/)
    const after = await value<GroupStatus[]>('getGroupStatus', 'work')
    expect(after[0]!.members.every((m) => typeof m.latencyMs === 'number')).toBe(true)

    // Refused payloads and references.
    const notMember = await call('selectGroupMember', 'work', 'pick', 'dead')
    expect(notMember).toMatchObject({ ok: false, error: { code: 'invalid-input' } })
    const ftp = await call('testUpstreams', 'work', 'ftp://127.0.0.1/')
    expect(ftp).toMatchObject({ ok: false, error: { code: 'invalid-input' } })
    expect(await call('getGroupStatus', 'nope')).toMatchObject({ ok: false, error: { code: 'not-found' } })
  })
})
