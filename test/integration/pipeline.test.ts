/**
 * The request pipeline with real clients and peers: WebSocket upgrades (direct, through squid and
 * microsocks), streaming and duplex, 100-continue, trailers, keep-alive edge cases, header edits,
 * timeouts against black-hole peers, loop protection and Via.
 */
import http from 'node:http'
import net from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Profile, Rule } from '../../common/model.ts'
import type { EngineOptions, ProxyEngine } from '../../main/engine/engine.ts'
import { RequestRing } from '../../main/stats/request-log.ts'
import { TrafficStats } from '../../main/stats/traffic-stats.ts'
import { connectTunnel, proxyGet, rawRequest } from '../harness/client.ts'
import { SSE_EVENTS, startFidelityOrigins, type FidelityOrigins } from '../harness/fidelity-origin.ts'
import { openWebSocketViaProxy } from '../harness/websocket.ts'
import { startEngine, startWorld, viaProfile, type World } from './world.ts'

let world: World
let origins: FidelityOrigins
let engine: (ProxyEngine & { port: number }) | null = null

beforeAll(async () => {
  ;[world, origins] = await Promise.all([startWorld(), startFidelityOrigins()])
}, 60_000)
afterAll(async () => {
  await Promise.all([world?.close(), origins?.close()])
})
afterEach(async () => {
  await engine?.stop()
  engine = null
})

async function run(options: EngineOptions = {}): Promise<ProxyEngine & { port: number }> {
  engine = await startEngine(options)
  return engine
}

const rule = (
  id: string,
  matchers: Rule['matchers'],
  action: Rule['action'],
  extra: Partial<Rule> = {}
): Rule => ({
  id,
  enabled: true,
  matchers,
  action,
  ...extra
})

function profileWith(rules: Rule[], base: Partial<Profile> = {}): Profile {
  return { id: 'p', name: 'P', upstreams: [], rules, defaultAction: { type: 'direct' }, ...base }
}

/** A GET through the proxy with Node's client, keeping the whole response. */
function get(
  port: number,
  url: string,
  options: http.RequestOptions = {}
): Promise<{ res: http.IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: url, ...options }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.once('end', () => resolve({ res, body: Buffer.concat(chunks).toString() }))
      res.once('error', reject)
    })
    req.once('error', reject)
    req.end()
  })
}

function waitFor<T>(probe: () => T | null | undefined, timeoutMs = 5000): Promise<T> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      const value = probe()
      if (value !== null && value !== undefined) return resolve(value)
      if (Date.now() - started > timeoutMs) return reject(new Error('condition not met in time'))
      setTimeout(tick, 20)
    }
    tick()
  })
}

describe('WebSocket over plain-HTTP proxying', () => {
  const routes = [
    ['direct', undefined],
    ['through squid', 'squid'],
    ['through microsocks (socks5)', 'socks5'],
    ['through microsocks (socks5h)', 'socks5h']
  ] as const
  for (const [name, upstream] of routes) {
    it(`echoes ${name}`, async () => {
      const { port } = await run(upstream ? { profile: viaProfile(world.upstreams[upstream]) } : {})
      const ws = await openWebSocketViaProxy(port, `${origins.http.url}/ws`)
      expect(ws.status).toBe(101)
      const hello = JSON.parse(await ws.next()) as { via: string | null }
      expect(hello.via).toMatch(/junction-[0-9a-f]{6}/)
      if (upstream === 'squid') expect(hello.via).toMatch(/squid/)
      ws.send('ping 1')
      expect(await ws.next()).toBe('echo: ping 1')
      ws.send('ping 2')
      expect(await ws.next()).toBe('echo: ping 2')
      ws.close()
    })
  }

  it('applies rules to the upgrade: blocked, and a header edit the origin sees', async () => {
    const stats = new TrafficStats({ ring: new RequestRing(100) })
    const { port } = await run({
      stats,
      profile: profileWith([
        rule('no-ws', [{ type: 'port', value: String(origins.closeDelimited.port) }], {
          type: 'block',
          status: 403,
          body: 'no sockets here'
        }),
        rule(
          'edit',
          [{ type: 'host', value: '127.0.0.1' }],
          { type: 'direct' },
          {
            rewrite: { request: [{ op: 'set', name: 'X-Edited', value: 'by junction' }] }
          }
        )
      ])
    })
    const blocked = await openWebSocketViaProxy(port, `${origins.closeDelimited.url}/ws`)
    expect(blocked.status).toBe(403)
    expect(blocked.headers['x-junction-error']).toBe('blocked')
    expect(blocked.body).toBe('no sockets here')

    const ws = await openWebSocketViaProxy(port, `${origins.http.url}/ws`)
    expect(JSON.parse(await ws.next())).toMatchObject({ edited: 'by junction' })
    // Shown in Connections as a long-lived upgraded connection.
    const view = stats.connections(0, 10).rows.find((c) => c.kind === 'upgrade')
    expect(view).toMatchObject({ host: '127.0.0.1', ruleId: 'edit', route: 'direct' })
    ws.close()
    const ring = (stats as unknown as { ring: RequestRing }).ring
    const logged = await waitFor(() => ring.list().find((e) => e.method === 'GET' && e.status === 101))
    expect(logged.rewritten).toBe(1)
  })
})

describe('streaming and duplex', () => {
  it('delivers server-sent events as they are written (each within 50 ms)', async () => {
    const { port } = await run()
    const delays: number[] = []
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: `${origins.http.url}/sse` }, (res) => {
          let text = ''
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString()
            for (let end = text.indexOf('\n\n'); end !== -1; end = text.indexOf('\n\n')) {
              delays.push(Date.now() - Number(text.slice('data: '.length, end)))
              text = text.slice(end + 2)
            }
          })
          res.once('end', resolve)
        })
        .once('error', reject)
    })
    expect(delays).toHaveLength(SSE_EVENTS)
    expect(Math.max(...delays)).toBeLessThan(50)
  })

  it('streams the response while the request body is still being sent', async () => {
    const { port } = await run()
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `${origins.http.url}/duplex` })
    const firstEcho = new Promise<string>((resolve, reject) => {
      req.once('response', (res) => res.once('data', (c: Buffer) => resolve(c.toString())))
      req.once('error', reject)
    })
    req.write('first chunk')
    // The upload is not finished: only a proxy that streams both ways can deliver this echo.
    expect(await firstEcho).toBe('first chunk')
    req.end('last')
  })

  it('relays Expect: 100-continue: the client sends its body after the origin said continue', async () => {
    const { port } = await run()
    const body = Buffer.alloc(100_000, 7)
    const result = await new Promise<{ continued: boolean; text: string }>((resolve, reject) => {
      let continued = false
      const req = http.request({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: `${origins.http.url}/count`,
        headers: { Expect: '100-continue', 'Content-Length': body.length }
      })
      req.once('continue', () => {
        continued = true
        req.end(body)
      })
      req.once('response', (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.once('end', () => resolve({ continued, text }))
      })
      req.once('error', reject)
    })
    expect(result).toEqual({ continued: true, text: String(body.length) })
  })

  it('passes trailers through', async () => {
    const { port } = await run()
    const { res, body } = await get(port, `${origins.http.url}/trailers`)
    expect(body).toBe('body with a trailer')
    expect(res.trailers).toEqual({ 'x-checksum': 'c0ffee' })
  })

  it('serves HEAD, 204 and 304 on one keep-alive connection, then a normal response', async () => {
    const { port } = await run()
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const sockets = new Set<string>()
    const track = (options: http.RequestOptions) => ({ ...options, agent })
    agent.on('free', (socket: net.Socket) => sockets.add(String(socket.localPort)))
    const head = await get(port, `${origins.http.url}/sized`, track({ method: 'HEAD' }))
    expect([head.res.statusCode, head.res.headers['content-length'], head.body]).toEqual([200, '1000', ''])
    const noContent = await get(port, `${world.origin.url}/status/204`, track({}))
    expect([noContent.res.statusCode, noContent.body]).toEqual([204, ''])
    const notModified = await get(port, `${world.origin.url}/status/304`, track({}))
    expect([notModified.res.statusCode, notModified.body]).toEqual([304, ''])
    const last = await get(port, `${world.origin.url}/bytes/10`, track({}))
    expect([last.res.statusCode, last.body.length]).toEqual([200, 10])
    expect(sockets.size).toBe(1)
    agent.destroy()
  })

  it('relays a close-delimited response whole', async () => {
    const { port } = await run()
    const { res, body } = await get(port, `${origins.closeDelimited.url}/`)
    expect(res.statusCode).toBe(200)
    expect(body).toBe('until the connection closes')
  })

  it('relays a 30 KiB response header', async () => {
    const { port } = await run()
    const { res, body } = await get(port, `${origins.http.url}/big-header`, { maxHeaderSize: 64 * 1024 })
    expect(res.statusCode).toBe(200)
    expect(res.headers['x-big']).toHaveLength(30 * 1024)
    expect(body).toBe('ok')
  })
})

describe('header edits', () => {
  it('sets, appends and removes request and response headers, and logs how many', async () => {
    const ring = new RequestRing(100)
    const { port } = await run({
      stats: new TrafficStats({ ring }),
      profile: profileWith([
        rule(
          'edits',
          [{ type: 'host', value: '127.0.0.1' }],
          { type: 'direct' },
          {
            rewrite: {
              request: [
                { op: 'set', name: 'User-Agent', value: 'Junction-Test' },
                { op: 'append', name: 'X-Tag', value: 'two' },
                { op: 'remove', name: 'Cookie' }
              ],
              response: [
                { op: 'remove', name: 'X-Origin-Drop' },
                { op: 'set', name: 'Server', value: 'edited' },
                { op: 'append', name: 'X-Added', value: 'yes' }
              ]
            }
          }
        )
      ])
    })
    const { res, body } = await get(port, `${origins.http.url}/headers`, {
      headers: { 'User-Agent': 'original', 'X-Tag': 'one', Cookie: 'session=secret' }
    })
    const raw = (JSON.parse(body) as { rawHeaders: string[] }).rawHeaders
    const seen = (name: string) => raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === name)
    expect(seen('user-agent')).toEqual(['Junction-Test'])
    expect(seen('x-tag')).toEqual(['one', 'two'])
    expect(seen('cookie')).toEqual([])
    expect(res.headers['x-origin-drop']).toBeUndefined()
    expect(res.headers['x-origin-keep']).toBe('kept')
    expect(res.headers.server).toBe('edited')
    expect(res.headers['x-added']).toBe('yes')
    const entry = await waitFor(() => ring.list()[0])
    expect(entry.rewritten).toBe(6)
  })
})

describe('timeouts', () => {
  const fast = { connectMs: 400, responseHeadersMs: 400, idleTunnelMs: 400, idleClientMs: 400 }

  it('answers 504 target-timeout when a direct target never answers, and logs it', async () => {
    const ring = new RequestRing(100)
    const { port } = await run({ timeouts: fast, stats: new TrafficStats({ ring }) })
    const started = Date.now()
    const res = await proxyGet(port, `${origins.blackHole.url}/`)
    const elapsed = Date.now() - started
    expect(res.status).toBe(504)
    expect(res.headers['x-junction-error']).toBe('target-timeout')
    expect(res.body.toString()).toMatch(/sent no response within 0\.4 s/)
    expect(elapsed).toBeGreaterThanOrEqual(380)
    expect(elapsed).toBeLessThan(2000)
    const entry = await waitFor(() => ring.list()[0])
    expect([entry.status, entry.error]).toEqual([504, 'target-timeout'])
  })

  it('answers 504 upstream-timeout when an upstream never answers, for HTTP and CONNECT', async () => {
    const hole = { ...world.upstreams.squid, id: 'hole', name: 'hole', port: origins.blackHole.port }
    const { port } = await run({ timeouts: fast, profile: viaProfile(hole) })
    const http1 = await proxyGet(port, `${world.origin.url}/echo`)
    expect([http1.status, http1.headers['x-junction-error']]).toEqual([504, 'upstream-timeout'])
    const tunnel = await connectTunnel(port, `127.0.0.1:${world.tlsOrigin.port}`)
    expect([tunnel.status, tunnel.headers['x-junction-error']]).toEqual([504, 'upstream-timeout'])
    // The client's socket and the one to the silent upstream are both closed.
    await waitFor(() => (origins.blackHole.connections() === 0 ? true : null))
  })

  it('closes an idle tunnel and logs why', async () => {
    const ring = new RequestRing(100)
    const { port } = await run({ timeouts: fast, stats: new TrafficStats({ ring }) })
    const tunnel = await connectTunnel(port, `127.0.0.1:${world.origin.port}`)
    expect(tunnel.status).toBe(200)
    const started = Date.now()
    await new Promise((resolve) => tunnel.socket.once('close', resolve))
    expect(Date.now() - started).toBeGreaterThanOrEqual(350)
    const entry = await waitFor(() => ring.list()[0])
    expect([entry.method, entry.status, entry.error]).toEqual(['CONNECT', 200, 'idle-timeout'])
  })

  it('closes an idle keep-alive client connection after its timeout, not Node’s 5 s', async () => {
    const stats = new TrafficStats({})
    const { port } = await run({ timeouts: { idleClientMs: 1500 }, stats })
    const socket = net.connect(port, '127.0.0.1')
    socket.write(`GET ${world.origin.url}/bytes/10 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
    socket.resume()
    const started = Date.now()
    await new Promise((resolve) => socket.once('close', resolve))
    // Node waits one more second than keepAliveTimeout, so that clients told `Keep-Alive: timeout`
    // close first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
    expect(Date.now() - started).toBeLessThan(4000)
    const closed = await waitFor(() => stats.tick().recentlyClosed[0])
    expect(closed.closeReason).toBe('idle timeout')
  })
})

describe('loops and Via', () => {
  it('answers 508 to a request or CONNECT for its own address, and keeps serving', async () => {
    const { port } = await run()
    for (const host of ['127.0.0.1', 'localhost']) {
      const res = await proxyGet(port, `http://${host}:${port}/`)
      expect([res.status, res.headers['x-junction-error']]).toEqual([508, 'loop-detected'])
      const tunnel = await connectTunnel(port, `${host}:${port}`)
      expect(tunnel.status).toBe(508)
    }
    expect((await proxyGet(port, `${world.origin.url}/echo`)).status).toBe(200)
  })

  it('answers 508 to a request that already passed this Junction, but not another one', async () => {
    const { port } = await run()
    const first = await proxyGet(port, `${world.origin.url}/echo`)
    const via = (JSON.parse(first.body.toString()) as { headers: { via: string } }).headers.via
    expect(via).toMatch(/^1\.1 junction-[0-9a-f]{6}$/)
    const again = await proxyGet(port, `${world.origin.url}/echo`, { headers: { Via: via } })
    expect(again.status).toBe(508)
    const other = await proxyGet(port, `${world.origin.url}/echo`, {
      headers: { Via: '1.1 junction-000000' }
    })
    expect(other.status).toBe(200)
  })

  it('adds no Via when turned off', async () => {
    const { port } = await run({ via: false })
    const res = await proxyGet(port, `${world.origin.url}/echo`)
    expect(
      (JSON.parse(res.body.toString()) as { headers: Record<string, string> }).headers.via
    ).toBeUndefined()
    expect(res.headers.via).toBeUndefined()
  })

  it('answers an HTTP/1.0 request without Host with the authority of its URL', async () => {
    const { port } = await run()
    const text = await rawRequest(port, `GET ${world.origin.url}/echo HTTP/1.0\r\n\r\n`)
    expect(text).toMatch(/^HTTP\/1\.1 200/)
    expect(text).toContain(`"host":"127.0.0.1:${world.origin.port}"`)
  })
})

describe('hostile input', () => {
  it('survives a client resetting its CONNECT and its pending upgrade', async () => {
    const { port } = await run({ auth: { username: 'u', password: 'password1' } })
    const connect = net.connect(port, '127.0.0.1')
    connect.write('CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n')
    await new Promise((resolve) => connect.once('data', resolve))
    connect.resetAndDestroy()
    const upgrade = net.connect(port, '127.0.0.1')
    const auth = Buffer.from('u:password1').toString('base64')
    upgrade.write(
      `GET ${origins.blackHole.url}/ws HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic ${auth}\r\n` +
        'Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n'
    )
    await waitFor(() => (origins.blackHole.connections() > 0 ? true : null))
    upgrade.resetAndDestroy()
    await new Promise((resolve) => setTimeout(resolve, 100))
    const res = await proxyGet(port, `${world.origin.url}/echo`, {
      headers: { 'Proxy-Authorization': `Basic ${auth}` }
    })
    expect(res.status).toBe(200)
  })

  it('answers 502 to a response Node cannot relay, and keeps serving', async () => {
    const bad = net.createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n'))
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = await run()
      const res = await proxyGet(port, `http://127.0.0.1:${(bad.address() as net.AddressInfo).port}/`)
      expect([res.status, res.headers['x-junction-error']]).toEqual([502, 'target-error'])
      expect((await proxyGet(port, `${world.origin.url}/echo`)).status).toBe(200)
    } finally {
      bad.close()
    }
  })

  it('keeps a chunked GET body framed, so it cannot pass as a second request', async () => {
    const { port } = await run()
    const inner = `GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`
    const text = await rawRequest(
      port,
      `GET ${world.origin.url}/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n` +
        `Connection: close\r\n\r\n${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`
    )
    expect(text).toMatch(/^HTTP\/1\.1 200/)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(world.origin.requests.some((r) => r.url.includes('smuggled'))).toBe(false)
  })

  it('does not let Connection remove Content-Length', async () => {
    const { port } = await run()
    const text = await rawRequest(
      port,
      `POST ${world.origin.url}/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n` +
        'Connection: close, Content-Length\r\n\r\nhello'
    )
    expect(text).toMatch(/^HTTP\/1\.1 200/)
    expect(text).toContain('"received":5')
  })

  it('sends the query and never the URL credentials on', async () => {
    const { port } = await run()
    const res = await proxyGet(port, `http://user:secret@127.0.0.1:${world.origin.port}/echo?q=1`)
    const echo = JSON.parse(res.body.toString()) as {
      url: string
      headers: Record<string, string>
      rawHeaders: string[]
    }
    expect(echo.url).toBe('/echo?q=1')
    expect(echo.headers.host).toBe(`127.0.0.1:${world.origin.port}`)
    // Exactly one Host: a second would make strict servers answer 400 (RFC 9112 §3.2).
    expect(echo.rawHeaders.filter((name, i) => i % 2 === 0 && name.toLowerCase() === 'host')).toHaveLength(1)
  })

  it('answers 508 to 0.0.0.0 and *.localhost on its own port, with Via off too', async () => {
    const { port } = await run({ via: false })
    for (const host of ['0.0.0.0', 'app.localhost']) {
      const res = await proxyGet(port, `http://${host}:${port}/`)
      expect([host, res.status]).toEqual([host, 508])
    }
  })
})
