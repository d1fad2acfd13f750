/**
 * HTTPS interception with real TLS: a rule with `intercept: true` opens matching tunnels with a leaf
 * from a local CA (here a test CA standing in for main/intercept/), edits apply inside, the target is
 * verified as a browser would, the first bytes decide TLS / plain HTTP / anything else, and the
 * route (direct, squid, microsocks) is kept. Tunnels no rule intercepts are untouched.
 */
import { X509Certificate } from 'node:crypto'
import net from 'node:net'
import https from 'node:https'
import tls from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import type { Profile, Rule, Upstream } from '../../common/model.ts'
import type { Exchange, ExchangeObserver, LeafIssuer, ProxyEngine } from '../../main/engine/engine.ts'
import { createTestCa, type TestCa } from '../harness/ca.ts'
import { connectTunnel, httpsGetViaProxy, proxyGet } from '../harness/client.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { startEngine, startWorld, type World } from './world.ts'

let world: World
let junctionCa: TestCa
let issuer: LeafIssuer
let expired: Origin
let wrongHost: Origin
let echo: net.Server
let echoPort: number
let engine: (ProxyEngine & { port: number }) | null = null

beforeAll(async () => {
  world = await startWorld()
  junctionCa = await createTestCa()
  const contexts = new Map<string, Promise<tls.SecureContext>>()
  issuer = {
    contextFor: (host) => {
      let context = contexts.get(host)
      if (!context) {
        context = junctionCa
          .issue([host])
          .then(({ keyPem, certPem }) => tls.createSecureContext({ key: keyPem, cert: certPem }))
        contexts.set(host, context)
      }
      return context
    }
  }
  ;[expired, wrongHost] = await Promise.all([
    startOrigin({ tls: await world.ca.issue(['localhost', '127.0.0.1'], { expired: true }) }),
    startOrigin({ tls: await world.ca.issue(['other.test']) })
  ])
  echo = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
  echoPort = (echo.address() as net.AddressInfo).port
}, 60_000)
afterAll(async () => {
  echo?.close()
  await Promise.all([world?.close(), expired?.close(), wrongHost?.close()])
})
afterEach(async () => {
  await engine?.stop()
  engine = null
})

const interceptLocalhost = (
  action: Rule['action'] = { type: 'direct' },
  upstreams: Upstream[] = []
): Profile => ({
  id: 'p',
  name: 'P',
  upstreams,
  rules: [
    {
      id: 'inspect',
      enabled: true,
      matchers: [{ type: 'host', value: 'localhost' }],
      action,
      intercept: true,
      rewrite: {
        request: [{ op: 'set', name: 'X-Edited', value: 'inside TLS' }],
        response: [{ op: 'set', name: 'X-Intercepted', value: 'yes' }]
      }
    }
  ],
  defaultAction: { type: 'direct' }
})

async function run(profile: Profile = interceptLocalhost()): Promise<number> {
  engine = await startEngine({ profile, authority: issuer, trustedCas: [world.ca.certPem] })
  return engine.port
}

describe('an intercepted host', () => {
  it('is served with the local CA’s certificate, and header edits apply both ways', async () => {
    const port = await run()
    const res = await httpsGetViaProxy(port, 'localhost', world.tlsOrigin.port, '/echo', junctionCa.certPem)
    expect(res.status).toBe(200)
    expect(res.headers['x-intercepted']).toBe('yes')
    const echoed = JSON.parse(res.body.toString()) as { headers: Record<string, string> }
    expect(echoed.headers['x-edited']).toBe('inside TLS')
    expect(echoed.headers.host).toBe(`localhost:${world.tlsOrigin.port}`)
  })

  it('offers only HTTP/1.1 by ALPN to a client that asks for h2', async () => {
    const port = await run()
    const tunnel = await connectTunnel(port, `localhost:${world.tlsOrigin.port}`)
    const secure = tls.connect({
      socket: tunnel.socket,
      servername: 'localhost',
      ca: junctionCa.certPem,
      ALPNProtocols: ['h2', 'http/1.1']
    })
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve)
      secure.once('error', reject)
    })
    expect(secure.alpnProtocol).toBe('http/1.1')
    secure.destroy()
  })

  it('carries a WebSocket inside the intercepted TLS, with the request edits', async () => {
    const server = https.createServer(
      await world.ca.issue(['localhost']).then((c) => ({ key: c.keyPem, cert: c.certPem }))
    )
    const wss = new WebSocketServer({ server })
    wss.on('connection', (socket, req) => {
      socket.send(`edited: ${req.headers['x-edited']}`)
      socket.on('message', (data) => socket.send(`echo: ${String(data)}`))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const originPort = (server.address() as net.AddressInfo).port
    try {
      const port = await run()
      const tunnel = await connectTunnel(port, `localhost:${originPort}`)
      const secure = tls.connect({ socket: tunnel.socket, servername: 'localhost', ca: junctionCa.certPem })
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve)
        secure.once('error', reject)
      })
      const client = new WebSocket(`wss://localhost:${originPort}/`, { createConnection: () => secure })
      const messages: string[] = []
      client.on('message', (data) => messages.push(String(data)))
      await new Promise<void>((resolve, reject) => {
        client.once('open', resolve)
        client.once('error', reject)
      })
      client.send('hi')
      await waitUntil(() => messages.length === 2)
      expect(messages).toEqual(['edited: inside TLS', 'echo: hi'])
      client.close()
    } finally {
      for (const socket of wss.clients) socket.terminate()
      server.closeAllConnections()
      server.close()
    }
  })

  it('fails the handshake cleanly for a client that does not trust the local CA', async () => {
    const port = await run()
    await expect(
      httpsGetViaProxy(port, 'localhost', world.tlsOrigin.port, '/echo', world.ca.certPem)
    ).rejects.toThrow(/TLS handshake .* failed|closed during the TLS handshake/)
    // Nothing was sent on, and the engine keeps serving.
    const res = await httpsGetViaProxy(port, 'localhost', world.tlsOrigin.port, '/echo', junctionCa.certPem)
    expect(res.status).toBe(200)
  })

  for (const [name, origin, why] of [
    ['an expired certificate', () => expired, /it has expired/],
    ['a certificate for another host', () => wrongHost, /issued for other names/]
  ] as const) {
    it(`answers a target with ${name} with a readable error and sends nothing`, async () => {
      const port = await run()
      const before = origin().requests.length
      const res = await httpsGetViaProxy(port, 'localhost', origin().port, '/echo', junctionCa.certPem)
      expect(res.status).toBe(502)
      expect(res.headers['x-junction-error']).toBe('target-certificate-invalid')
      expect(res.body.toString()).toMatch(why)
      expect(origin().requests.length).toBe(before)
    })
  }

  it('serves plain HTTP sent inside the tunnel, with the edits', async () => {
    const port = await run()
    const tunnel = await connectTunnel(port, `localhost:${world.origin.port}`)
    expect(tunnel.status).toBe(200)
    tunnel.socket.write(
      `GET /echo HTTP/1.1\r\nHost: localhost:${world.origin.port}\r\nConnection: close\r\n\r\n`
    )
    const text = await new Promise<string>((resolve) => {
      let received = ''
      tunnel.socket.on('data', (c: Buffer) => (received += c.toString()))
      tunnel.socket.once('close', () => resolve(received))
    })
    expect(text).toMatch(/^HTTP\/1\.1 200/)
    expect(text).toMatch(/x-intercepted: yes/i)
    expect(text).toContain('"x-edited":"inside TLS"')
  })

  it('passes any other protocol through unchanged', async () => {
    const port = await run()
    const tunnel = await connectTunnel(port, `localhost:${echoPort}`)
    expect(tunnel.status).toBe(200)
    tunnel.socket.write('\x00\x01 binary hello\n')
    const back = await new Promise<string>((resolve) =>
      tunnel.socket.once('data', (c: Buffer) => resolve(c.toString('latin1')))
    )
    expect(back).toBe('\x00\x01 binary hello\n')
    tunnel.socket.destroy()
  })

  it('keeps its route: through squid, through microsocks, and a dead upstream fails', async () => {
    for (const upstream of [world.upstreams.squid, world.upstreams.socks5]) {
      const port = await run(interceptLocalhost({ type: 'upstream', upstreamId: upstream.id }, [upstream]))
      const res = await httpsGetViaProxy(port, 'localhost', world.tlsOrigin.port, '/echo', junctionCa.certPem)
      expect([upstream.id, res.status, res.headers['x-intercepted']]).toEqual([upstream.id, 200, 'yes'])
      await engine!.stop()
    }
    const dead = world.upstreams.dead
    const port = await run(interceptLocalhost({ type: 'upstream', upstreamId: dead.id }, [dead]))
    const res = await httpsGetViaProxy(port, 'localhost', world.tlsOrigin.port, '/echo', junctionCa.certPem)
    expect([res.status, res.headers['x-junction-error']]).toEqual([502, 'upstream-refused'])
  })
})

describe('exchanges seen by an observer (the Inspect view)', () => {
  it('records plain and intercepted requests with forwarded headers and the first bytes of bodies', async () => {
    const seen: Exchange[] = []
    const observer: ExchangeObserver = {
      recording: true,
      previewBytes: 10,
      started: () => {},
      finished: (exchange) => seen.push(exchange)
    }
    engine = await startEngine({
      profile: interceptLocalhost(),
      authority: issuer,
      trustedCas: [world.ca.certPem],
      exchanges: observer
    })
    await httpsGetViaProxy(engine.port, 'localhost', world.tlsOrigin.port, '/bytes/100', junctionCa.certPem)
    await proxyGet(engine.port, `${world.origin.url}/bytes/5`)
    await waitUntil(() => seen.length === 2)
    const [secure, plain] = seen
    expect(secure).toMatchObject({
      method: 'GET',
      url: `https://localhost:${world.tlsOrigin.port}/bytes/100`,
      intercepted: true,
      ruleId: 'inspect',
      status: 200,
      error: null
    })
    expect(secure!.requestHeaders).toContain('X-Edited')
    expect(secure!.responseHeaders).toContain('X-Intercepted')
    expect([secure!.responseBody.kept, secure!.responseBody.total]).toEqual([10, 100])
    expect(plain).toMatchObject({ url: `${world.origin.url}/bytes/5`, intercepted: false, status: 200 })
    expect(plain!.responseBody.total).toBe(5)
  })

  it('builds nothing while not recording', async () => {
    let started = 0
    const observer: ExchangeObserver = {
      recording: false,
      previewBytes: 10,
      started: () => started++,
      finished: () => {}
    }
    engine = await startEngine({ exchanges: observer })
    await proxyGet(engine.port, `${world.origin.url}/bytes/5`)
    expect(started).toBe(0)
  })
})

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  expect(check()).toBe(true)
}

describe('a host no rule intercepts', () => {
  it('reaches the client with the origin’s own certificate, unchanged', async () => {
    const port = await run()
    const tunnel = await connectTunnel(port, `127.0.0.1:${world.tlsOrigin.port}`)
    const secure = tls.connect({ socket: tunnel.socket, ca: world.ca.certPem, host: '127.0.0.1' })
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve)
      secure.once('error', reject)
    })
    const presented = new X509Certificate(secure.getPeerCertificate(true).raw)
    expect(presented.checkIssued(new X509Certificate(world.ca.certPem))).toBe(true)
    expect(presented.checkIssued(new X509Certificate(junctionCa.certPem))).toBe(false)
    secure.destroy()
  })

  it('is never intercepted without a local CA, even when a rule asks', async () => {
    engine = await startEngine({ profile: interceptLocalhost() })
    const res = await httpsGetViaProxy(
      engine.port,
      'localhost',
      world.tlsOrigin.port,
      '/echo',
      world.ca.certPem
    )
    expect(res.status).toBe(200)
    expect(res.headers['x-intercepted']).toBeUndefined()
  })
})
