/**
 * Fault tests with real processes on loopback: every wait ends with a readable answer, abandoned
 * connections free their sockets on every path, and a response cut short is never passed off as
 * complete.
 *
 * Dead peers (test/harness/black-hole.ts): a *silent* one accepts TCP and never answers nor closes; an
 * *unreachable* one is a listener whose accept queue is full, so the kernel drops each SYN, as a host
 * that drops packets does. Real peers: Debian squid (HTTP, basic auth), microsocks (SOCKS5 with
 * user/password), proxy-chain in HTTPS mode, and an origin that cuts its responses
 * (test/harness/faulty-origin.ts). Timeouts are configured short (1 s connect and response headers)
 * so that every wait is measured against its bound.
 */
import http from 'node:http'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RequestLogEntry, Upstream } from '../../common/model.ts'
import type { EngineOptions, ProxyEngine, Timeouts } from '../../main/engine/engine.ts'
import { HALF_CLOSED_TUNNEL_MS } from '../../main/engine/transport.ts'
import { RequestRing } from '../../main/stats/request-log.ts'
import { TrafficStats } from '../../main/stats/traffic-stats.ts'
import {
  startSilentPeer,
  startUnreachablePeer,
  type SilentPeer,
  type UnreachablePeer
} from '../harness/black-hole.ts'
import { connectTunnel } from '../harness/client.ts'
import { startFaultyOrigin, type FaultyOrigin } from '../harness/faulty-origin.ts'
import { listeningPid } from '../harness/headless-process.ts'
import { openDescriptors, openSockets } from '../harness/open-sockets.ts'
import { startSquid } from '../harness/squid.ts'
import { SQUID_AUTH, startEngine, startWorld, viaProfile, type World } from '../integration/world.ts'

const FAST: Timeouts = { connectMs: 1000, responseHeadersMs: 1000, idleTunnelMs: 1500, idleClientMs: 10_000 }
/** Scheduling slack on a loaded two-core machine; a wait that hangs overshoots it by far. */
const SLACK_MS = 1500

let world: World
let silent: SilentPeer
/** An HTTP upstream that opens every tunnel, then never sends a byte nor closes. */
let hanging: SilentPeer
let unreachable: UnreachablePeer
let faulty: FaultyOrigin

beforeAll(async () => {
  ;[world, silent, hanging, unreachable, faulty] = await Promise.all([
    startWorld(),
    startSilentPeer(),
    startSilentPeer({ opensTunnels: true }),
    startUnreachablePeer(),
    startFaultyOrigin()
  ])
}, 60_000)
afterAll(async () => {
  await Promise.all([
    world?.close(),
    silent?.close(),
    hanging?.close(),
    unreachable?.close(),
    faulty?.close()
  ])
})

interface Running {
  engine: ProxyEngine & { port: number }
  ring: RequestRing
}

async function withEngine<T>(options: EngineOptions, body: (run: Running) => Promise<T>): Promise<T> {
  const ring = new RequestRing(200)
  const engine = await startEngine({ timeouts: FAST, stats: new TrafficStats({ ring }), ...options })
  try {
    return await body({ engine, ring })
  } finally {
    await engine.stop()
  }
}

/** Polls `probe` every `everyMs` until it gives a value; socket counts read /proc, so not too often. */
function waitFor<T>(probe: () => T | null | undefined, timeoutMs = 5000, everyMs = 25): Promise<T> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      const value = probe()
      if (value !== null && value !== undefined && value !== false) return resolve(value)
      if (Date.now() - started > timeoutMs) return reject(new Error('condition not met in time'))
      setTimeout(tick, everyMs)
    }
    tick()
  })
}

const logged = (ring: RequestRing, method: string): Promise<RequestLogEntry> =>
  waitFor(() => ring.list().find((e) => e.method === method))

interface Fetched {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  /** Whether the body ended as its framing says (Content-Length reached or final chunk seen). */
  complete: boolean
}

/** A GET through the proxy with Node's client, which tells a complete body from a cut one. */
function get(port: number, url: string, onData?: (received: number) => void): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: url,
        headers: { host: new URL(url).host },
        agent: false,
        maxHeaderSize: 1024 * 1024
      },
      (res) => {
        const chunks: Buffer[] = []
        let received = 0
        const done = (complete: boolean): void =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), complete })
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk)
          onData?.((received += chunk.length))
        })
        res.once('end', () => done(true))
        res.once('error', () => done(false))
      }
    )
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer to GET ${url} in 30 s`)))
    req.once('error', reject)
    req.end()
  })
}

const upstreamAt = (scheme: Upstream['scheme'], port: number, auth = true): Upstream =>
  ({
    id: `${scheme}-${port}`,
    name: `${scheme} ${port}`,
    scheme,
    host: '127.0.0.1',
    port,
    ...(auth ? { username: 'user', password: 'secret' } : {})
  }) as Upstream

/**
 * The wait that ran out, as the answer words it: reaching the first hop (TCP, and TLS to an HTTPS
 * upstream), a connection through the upstream to the target (SOCKS, CONNECT), or, when a request was
 * sent to a silent HTTP upstream or target, its answer.
 */
function whatRanOut(silentPeer: boolean, method: string, upstream: Upstream | null): RegExp {
  const scheme = upstream?.scheme
  if (!silentPeer) return /^(.* could not be reached|No connection to .* through .*) within 1 s\.\n$/
  if (method === 'CONNECT' || scheme?.startsWith('socks'))
    return /^No connection to .* through .* within 1 s\.\n$/
  if (scheme === 'https') return /^upstream proxy .* could not be reached within 1 s\.\n$/
  return /^.* sent no response within 1 s\.\n$/
}

// Each case waits about a second on a dead peer: they run a few at a time.
describe.concurrent(
  'every wait has an end: 504 with the reason, a log entry, within the configured time',
  () => {
    type Hop = { name: string; upstream: (port: number) => Upstream | null }
    const hops: Hop[] = [
      { name: 'a direct target', upstream: () => null },
      { name: 'an HTTP upstream', upstream: (port) => upstreamAt('http', port) },
      { name: 'an HTTPS upstream', upstream: (port) => upstreamAt('https', port) },
      { name: 'a SOCKS4 upstream', upstream: (port) => upstreamAt('socks4', port, false) },
      { name: 'a SOCKS5 upstream', upstream: (port) => upstreamAt('socks5', port, false) },
      { name: 'a SOCKS5 upstream with a password', upstream: (port) => upstreamAt('socks5', port) }
    ]
    const peers = [
      { kind: 'drops connection attempts', silent: false, port: () => unreachable.port },
      { kind: 'accepts and never answers', silent: true, port: () => silent.port }
    ]

    for (const peer of peers)
      for (const hop of hops)
        for (const method of ['GET', 'CONNECT'] as const) {
          // A silent direct target accepts the CONNECT: the tunnel opens; that case is the idle timeout's.
          if (method === 'CONNECT' && hop.upstream(0) === null && peer.silent) continue
          it(`${method} to ${hop.name} that ${peer.kind}`, async ({ expect }) => {
            const deadPort = peer.port()
            const upstream = hop.upstream(deadPort)
            const code = upstream ? 'upstream-timeout' : 'target-timeout'
            const targetPort = upstream ? world.origin.port : deadPort
            await withEngine(upstream ? { profile: viaProfile(upstream) } : {}, async ({ engine, ring }) => {
              const started = Date.now()
              const answer =
                method === 'GET'
                  ? await get(engine.port, `http://127.0.0.1:${targetPort}/`).then((r) => ({
                      status: r.status,
                      code: r.headers['x-junction-error'],
                      body: r.body.toString()
                    }))
                  : await connectTunnel(engine.port, `127.0.0.1:${targetPort}`).then((r) => ({
                      status: r.status,
                      code: r.headers['x-junction-error'],
                      body: r.body
                    }))
              const elapsed = Date.now() - started
              expect(answer).toMatchObject({ status: 504, code })
              expect(answer.body).toMatch(whatRanOut(peer.silent, method, upstream))
              expect(elapsed).toBeGreaterThanOrEqual(FAST.connectMs - 50)
              expect(elapsed).toBeLessThan(FAST.connectMs + SLACK_MS)
              const entry = await logged(ring, method)
              expect([entry.status, entry.error]).toEqual([504, code])
            })
          })
        }

    const realUpstreams: { name: string; upstream: () => Upstream }[] = [
      { name: 'squid', upstream: () => world.upstreams.squid },
      { name: 'an HTTPS upstream', upstream: () => world.upstreams.https },
      { name: 'microsocks (SOCKS5 with a password)', upstream: () => world.upstreams.socks5 }
    ]
    for (const real of realUpstreams)
      for (const peer of peers)
        it(`GET and CONNECT through ${real.name} to a target that ${peer.kind}`, async ({ expect }) => {
          const upstream = real.upstream()
          await withEngine({ profile: viaProfile(upstream) }, async ({ engine, ring }) => {
            let started = Date.now()
            const res = await get(engine.port, `http://127.0.0.1:${peer.port()}/`)
            let elapsed = Date.now() - started
            expect([res.status, res.headers['x-junction-error']]).toEqual([504, 'upstream-timeout'])
            expect(elapsed).toBeLessThan(FAST.connectMs + FAST.responseHeadersMs + SLACK_MS)
            const entry = await logged(ring, 'GET')
            expect([entry.status, entry.error]).toEqual([504, 'upstream-timeout'])

            started = Date.now()
            const tunnel = await connectTunnel(engine.port, `127.0.0.1:${peer.port()}`)
            if (peer.silent) {
              // The upstream reached the target: the tunnel opens, and closes once idle.
              expect(tunnel.status).toBe(200)
              await new Promise((resolve) => tunnel.socket.once('close', resolve))
              elapsed = Date.now() - started
              expect(elapsed).toBeGreaterThanOrEqual(FAST.idleTunnelMs - 50)
              expect(elapsed).toBeLessThan(FAST.idleTunnelMs * 1.25 + SLACK_MS)
              const closed = await logged(ring, 'CONNECT')
              expect([closed.status, closed.error]).toEqual([200, 'idle-timeout'])
            } else {
              elapsed = Date.now() - started
              expect([tunnel.status, tunnel.headers['x-junction-error']]).toEqual([504, 'upstream-timeout'])
              expect(tunnel.body).toMatch(/^No connection to 127\.0\.0\.1:\d+ through .* within 1 s\.\n$/)
              expect(elapsed).toBeLessThan(FAST.connectMs + SLACK_MS)
              const failed = await logged(ring, 'CONNECT')
              expect([failed.status, failed.error]).toEqual([504, 'upstream-timeout'])
            }
          })
        })

    it('a connect timeout longer than the pools’ 4 s idle timeout is waited out in full, plain HTTP too', async ({
      expect
    }) => {
      const timeouts = { ...FAST, connectMs: 5000 }
      // Straight to a target and through an HTTP upstream that drop connection attempts; through an
      // HTTPS upstream that accepts TCP and never answers the TLS handshake.
      const vias = [null, upstreamAt('http', unreachable.port), upstreamAt('https', silent.port)]
      const runs = vias.map((via) =>
        withEngine({ timeouts, ...(via ? { profile: viaProfile(via) } : {}) }, async ({ engine }) => {
          const started = Date.now()
          const res = await get(
            engine.port,
            `http://127.0.0.1:${via ? world.origin.port : unreachable.port}/`
          )
          const elapsed = Date.now() - started
          expect([res.status, res.headers['x-junction-error']]).toEqual([
            504,
            via ? 'upstream-timeout' : 'target-timeout'
          ])
          expect(res.body.toString()).toMatch(/could not be reached within 5 s\.\n$/)
          expect(elapsed).toBeGreaterThanOrEqual(timeouts.connectMs - 50)
          expect(elapsed).toBeLessThan(timeouts.connectMs + SLACK_MS)
        })
      )
      await Promise.all(runs)
    })

    const stallRoutes = [
      { name: 'straight from the target', upstream: (): Upstream | null => null },
      { name: 'through squid', upstream: () => world.upstreams.squid },
      { name: 'through an HTTPS upstream', upstream: () => world.upstreams.https },
      { name: 'through microsocks', upstream: () => world.upstreams.socks5 }
    ]
    for (const route of stallRoutes)
      it(`cuts a response body that stops flowing ${route.name} after the idle timeout, and logs idle-timeout`, async ({
        expect
      }) => {
        const upstream = route.upstream()
        await withEngine(upstream ? { profile: viaProfile(upstream) } : {}, async ({ engine, ring }) => {
          const started = Date.now()
          const res = await get(engine.port, `${faulty.url}/stall/1000`)
          const elapsed = Date.now() - started
          expect([res.status, res.complete, res.body.length]).toEqual([200, false, 1000])
          expect(elapsed).toBeGreaterThanOrEqual(FAST.idleTunnelMs - 50)
          expect(elapsed).toBeLessThan(FAST.idleTunnelMs + SLACK_MS)
          const entry = await logged(ring, 'GET')
          expect([entry.status, entry.error]).toEqual([200, 'idle-timeout'])
        })
      })

    it('CONNECT to a direct target that accepts and never answers: the tunnel opens, then closes at the idle timeout', async ({
      expect
    }) => {
      await withEngine({}, async ({ engine, ring }) => {
        const tunnel = await connectTunnel(engine.port, `127.0.0.1:${silent.port}`)
        expect(tunnel.status).toBe(200)
        const started = Date.now()
        await new Promise((resolve) => tunnel.socket.resume().once('close', resolve))
        const elapsed = Date.now() - started
        expect(elapsed).toBeGreaterThanOrEqual(FAST.idleTunnelMs - 50)
        expect(elapsed).toBeLessThan(FAST.idleTunnelMs * 1.25 + SLACK_MS)
        const entry = await logged(ring, 'CONNECT')
        expect([entry.status, entry.error]).toEqual([200, 'idle-timeout'])
      })
    })
  }
)

describe('abandoned connections free their sockets on every path', () => {
  const CLIENTS = 50

  /** Opens `CLIENTS` connections to the engine that each send `request` and then just wait. */
  function openClients(port: number, request: string): net.Socket[] {
    const clients: net.Socket[] = []
    for (let i = 0; i < CLIENTS; i++) {
      const socket = net.connect(port, '127.0.0.1')
      socket.on('error', () => {})
      socket.write(request)
      socket.resume()
      clients.push(socket)
    }
    return clients
  }

  /** The engine's own sockets (open-sockets.ts): accepted on its port, or opened to `hop`. */
  const TUNNEL_CONNECT = { ...FAST, connectMs: 10_000 }

  const engineSockets = (port: number, hop: number): number =>
    openSockets([{ localPort: port }, { remotePort: hop }])

  type Case = {
    name: string
    upstream: () => Upstream | null
    target: () => number
    method: 'CONNECT' | 'GET' | 'Upgrade'
  }
  const cases: Case[] = [
    {
      name: 'CONNECTs through a silent HTTP upstream',
      upstream: () => upstreamAt('http', silent.port),
      target: () => 443,
      method: 'CONNECT'
    },
    {
      name: 'CONNECTs through a silent HTTPS upstream',
      upstream: () => upstreamAt('https', silent.port),
      target: () => 443,
      method: 'CONNECT'
    },
    {
      name: 'CONNECTs through a silent SOCKS5 upstream',
      upstream: () => upstreamAt('socks5', silent.port),
      target: () => 443,
      method: 'CONNECT'
    },
    {
      name: 'CONNECTs through an unreachable HTTP upstream',
      upstream: () => upstreamAt('http', unreachable.port),
      target: () => 443,
      method: 'CONNECT'
    },
    {
      name: 'CONNECTs straight to an unreachable target',
      upstream: () => null,
      target: () => unreachable.port,
      method: 'CONNECT'
    },
    {
      name: 'GETs through a silent SOCKS5 upstream',
      upstream: () => upstreamAt('socks5', silent.port),
      target: () => 80,
      method: 'GET'
    },
    {
      name: 'GETs through a silent HTTP upstream',
      upstream: () => upstreamAt('http', silent.port),
      target: () => 80,
      method: 'GET'
    },
    {
      name: 'GETs straight to an unreachable target',
      upstream: () => null,
      target: () => unreachable.port,
      method: 'GET'
    },
    {
      name: 'WebSocket upgrades to a silent target',
      upstream: () => null,
      target: () => silent.port,
      method: 'Upgrade'
    },
    {
      name: 'WebSocket upgrades through a silent SOCKS5 upstream',
      upstream: () => upstreamAt('socks5', silent.port),
      target: () => 80,
      method: 'Upgrade'
    },
    {
      name: 'WebSocket upgrades through a silent HTTP upstream',
      upstream: () => upstreamAt('http', silent.port),
      target: () => 80,
      method: 'Upgrade'
    }
  ]

  for (const c of cases)
    it(`${CLIENTS} ${c.name}, abandoned while waiting: sockets back to baseline at once, not at the timeout`, async () => {
      const upstream = c.upstream()
      const hop = upstream ? upstream.port : c.target()
      // A long connect timeout: only the clients leaving can explain the sockets closing in time.
      const timeouts = { ...FAST, connectMs: 8000, responseHeadersMs: 8000 }
      await withEngine(
        { timeouts, ...(upstream ? { profile: viaProfile(upstream) } : {}) },
        async ({ engine }) => {
          const baseline = engineSockets(engine.port, hop)
          const fdsBefore = openDescriptors()
          const target = `127.0.0.1:${c.target()}`
          const clients = openClients(
            engine.port,
            c.method === 'CONNECT'
              ? `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`
              : `GET http://${target}/ HTTP/1.1\r\nHost: ${target}\r\n` +
                  (c.method === 'Upgrade'
                    ? 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
                      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                    : '') +
                  '\r\n'
          )
          // Every client's connection is accepted and waiting on its hop.
          await waitFor(() => engineSockets(engine.port, hop) - baseline >= 2 * CLIENTS || null, 10_000, 100)
          const peak = openDescriptors() - fdsBefore
          const left = Date.now()
          for (const client of clients) client.destroy()
          await waitFor(() => engineSockets(engine.port, hop) <= baseline, 3000, 100)
          const freedMs = Date.now() - left
          expect(freedMs).toBeLessThan(timeouts.connectMs / 2)
          expect(openDescriptors() - fdsBefore).toBeLessThanOrEqual(0)
          console.info(
            `${c.name}: +${peak} descriptors while waiting, all freed ${freedMs} ms after the clients left`
          )
        }
      )
    })

  it(`${CLIENTS} CONNECTs through a silent HTTP upstream, clients staying: 504 at the connect timeout, sockets freed`, async () => {
    const upstream = upstreamAt('http', silent.port)
    await withEngine({ profile: viaProfile(upstream) }, async ({ engine }) => {
      const baseline = engineSockets(engine.port, upstream.port)
      const started = Date.now()
      const answers = await Promise.all(
        Array.from({ length: CLIENTS }, () =>
          connectTunnel(engine.port, '127.0.0.1:443', { timeoutMs: 10_000 })
        )
      )
      expect(new Set(answers.map((a) => `${a.status} ${a.headers['x-junction-error']}`))).toEqual(
        new Set(['504 upstream-timeout'])
      )
      await waitFor(() => engineSockets(engine.port, upstream.port) <= baseline, 5000, 100)
      expect(Date.now() - started).toBeLessThan(FAST.connectMs + 1000 + SLACK_MS * 2)
    })
  })

  /**
   * Opens `CLIENTS` tunnels to the silent peer; resolves once the engine holds both sockets of each.
   * Engines for these tests wait up to `TUNNEL_CONNECT` to reach the target: opening is not under test.
   */
  async function openSilentTunnels(port: number, hop: number, baseline: number): Promise<net.Socket[]> {
    const tunnels = await Promise.all(
      Array.from({ length: CLIENTS }, () =>
        connectTunnel(port, `127.0.0.1:${silent.port}`, { timeoutMs: TUNNEL_CONNECT.connectMs + 5000 })
      )
    )
    expect(new Set(tunnels.map((t) => t.status))).toEqual(new Set([200]))
    await waitFor(() => engineSockets(port, hop) - baseline >= 2 * CLIENTS || null, 10_000, 100)
    return tunnels.map((t) => t.socket.resume())
  }

  it(`${CLIENTS} open tunnels to a target that never answers nor closes, left by their clients: closed within the half-close grace, not the idle timeout`, async () => {
    // An idle timeout far beyond the test: only the grace after the clients' FIN can close them.
    const timeouts = { ...TUNNEL_CONNECT, idleTunnelMs: 200_000 }
    const upstreams = [null, world.upstreams.socks5, world.upstreams.squid, upstreamAt('http', hanging.port)]
    // Independent engines: they wait out their grace side by side.
    await Promise.all(
      upstreams.map((upstream) =>
        withEngine(
          { timeouts, ...(upstream ? { profile: viaProfile(upstream) } : {}) },
          async ({ engine }) => {
            const hop = upstream ? upstream.port : silent.port
            const baseline = engineSockets(engine.port, hop)
            const clients = await openSilentTunnels(engine.port, hop, baseline)
            const left = Date.now()
            for (const client of clients) client.destroy()
            // Twice the grace, to pass on a loaded machine: still a tenth of the idle timeout.
            await waitFor(() => engineSockets(engine.port, hop) <= baseline, 2 * HALF_CLOSED_TUNNEL_MS, 100)
            expect(Date.now() - left).toBeLessThan(2 * HALF_CLOSED_TUNNEL_MS)
          }
        )
      )
    )
  }, 90_000)

  it(`${CLIENTS} idle tunnels to a target that never answers nor closes, clients staying: both sockets closed at the idle timeout`, async () => {
    // Long enough that all tunnels are open before the first is idle, on a loaded machine too.
    const timeouts = { ...TUNNEL_CONNECT, idleTunnelMs: 3000 }
    for (const upstream of [null, world.upstreams.squid, upstreamAt('http', hanging.port)]) {
      const options = { timeouts, ...(upstream ? { profile: viaProfile(upstream) } : {}) }
      await withEngine(options, async ({ engine }) => {
        const hop = upstream ? upstream.port : silent.port
        const baseline = engineSockets(engine.port, hop)
        const clients = await openSilentTunnels(engine.port, hop, baseline)
        const opened = Date.now()
        await waitFor(
          () => clients.every((c) => c.destroyed) || null,
          timeouts.idleTunnelMs * 1.25 + SLACK_MS * 2
        )
        // The target's side too, though the target never closes its own: not left half-open.
        await waitFor(() => engineSockets(engine.port, hop) <= baseline, SLACK_MS, 100)
        expect(Date.now() - opened).toBeLessThan(timeouts.idleTunnelMs * 1.25 + SLACK_MS * 3)
      })
    }
  }, 60_000)
})

describe('truth in failures: a cut response is never passed off as complete', () => {
  const HALF = 50_000
  const routes: { name: string; upstream: () => Upstream | null; code: string }[] = [
    { name: 'direct', upstream: () => null, code: 'target-reset' },
    { name: 'through squid', upstream: () => world.upstreams.squid, code: 'upstream-reset' },
    { name: 'through an HTTPS upstream', upstream: () => world.upstreams.https, code: 'upstream-reset' },
    { name: 'through microsocks', upstream: () => world.upstreams.socks5, code: 'upstream-reset' }
  ]
  for (const route of routes)
    for (const framing of ['length', 'chunked'] as const)
      it(`${route.name}, ${framing === 'length' ? 'fewer bytes than Content-Length' : 'no final chunk'}: cut for the client, logged with the bytes sent`, async () => {
        const upstream = route.upstream()
        await withEngine(upstream ? { profile: viaProfile(upstream) } : {}, async ({ engine, ring }) => {
          const res = await get(engine.port, `${faulty.url}/cut-${framing}/${HALF}`)
          expect(res.status).toBe(200)
          expect(res.complete).toBe(false)
          expect(res.body.length).toBeLessThanOrEqual(HALF)
          const entry = await logged(ring, 'GET')
          expect([entry.status, entry.error]).toEqual([200, route.code])
          // Bytes on the client's connection: the head and what of the body got through, not a whole body.
          expect(entry.down).toBeGreaterThanOrEqual(res.body.length)
          expect(entry.down).toBeLessThan(HALF + 2000)
        })
      })

  it('squid killed mid-download: the client sees the cut, the log says upstream-reset with the bytes sent', async () => {
    const squid = await startSquid(SQUID_AUTH)
    try {
      const upstream = { ...world.upstreams.squid, id: 'doomed', port: squid.port }
      await withEngine({ profile: viaProfile(upstream) }, async ({ engine, ring }) => {
        const total = 4 * 1024 * 1024
        const pid = await listeningPid(squid.port)
        expect(pid).not.toBeNull()
        let killed = false
        const res = await get(engine.port, `${world.origin.url}/slow?bytes=${total}&ms=6000`, (received) => {
          if (killed || received < total / 8) return
          killed = true
          // The whole process group: squid and its authentication helpers.
          process.kill(-pid!, 'SIGKILL')
        })
        expect(killed).toBe(true)
        expect([res.status, res.complete]).toEqual([200, false])
        expect(res.body.length).toBeLessThan(total)
        const entry = await logged(ring, 'GET')
        expect([entry.status, entry.error]).toEqual([200, 'upstream-reset'])
        expect(entry.down).toBeGreaterThanOrEqual(res.body.length)
        expect(entry.down).toBeLessThan(total)
      })
    } finally {
      await squid.close()
    }
  })
})

describe('answers that are not HTTP', () => {
  it('a target that answers with something else than HTTP: 502 saying so, not a failure to connect', async () => {
    await withEngine({}, async ({ engine, ring }) => {
      const res = await get(engine.port, `${faulty.url}/garbage`)
      expect([res.status, res.headers['x-junction-error']]).toEqual([502, 'target-error'])
      expect(res.body.toString()).toMatch(/^127\.0\.0\.1:\d+ sent an invalid response \(HPE_[A-Z_]+\)\.\n$/)
      const entry = await logged(ring, 'GET')
      expect([entry.status, entry.error]).toEqual([502, 'target-error'])
    })
  })
})

describe('large response heads', () => {
  const routes: { name: string; upstream: () => Upstream | null }[] = [
    { name: 'direct', upstream: () => null },
    { name: 'through microsocks', upstream: () => world.upstreams.socks5 },
    { name: 'through squid', upstream: () => world.upstreams.squid }
  ]
  for (const route of routes)
    it(`${route.name}: a 63 KiB header block passes`, async () => {
      const upstream = route.upstream()
      await withEngine(upstream ? { profile: viaProfile(upstream) } : {}, async ({ engine }) => {
        const res = await get(engine.port, `${faulty.url}/headers/${63 * 1024}`)
        expect([res.status, res.body.toString(), res.complete]).toEqual([200, 'ok', true])
        expect(res.headers['x-filler-62']).toHaveLength(1000)
      })
    })

  // Squid answers a larger head with its own 502 (reply_header_max_size): that is the upstream's reply.
  for (const route of routes.slice(0, 2))
    it(`${route.name}: a header block over 64 KiB gets 502 response-headers-too-large, logged`, async () => {
      const upstream = route.upstream()
      await withEngine(upstream ? { profile: viaProfile(upstream) } : {}, async ({ engine, ring }) => {
        for (const size of [66 * 1024, 300 * 1024]) {
          const res = await get(engine.port, `${faulty.url}/headers/${size}`)
          expect([res.status, res.headers['x-junction-error']]).toEqual([502, 'response-headers-too-large'])
          expect(res.body.toString()).toMatch(/sent response headers larger than 64 KiB/)
        }
        const entry = await logged(ring, 'GET')
        expect([entry.status, entry.error]).toEqual([502, 'response-headers-too-large'])
      })
    })
})
