/**
 * The engine with real traffic: plain HTTP and CONNECT (TLS to an origin signed by a test CA), direct
 * and through each kind of upstream, rules, profile switches and failures.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Profile, Rule, Upstream } from '../../common/model.ts'
import type { ProxyEngine } from '../../main/engine/engine.ts'
import { connectTunnel, httpsGetViaProxy, proxyGet, rawRequest } from '../harness/client.ts'
import { patternBytes } from '../harness/origin.ts'
import { startEngine, startWorld, viaProfile, type World } from './world.ts'

let world: World
let engine: (ProxyEngine & { port: number }) | null = null

beforeAll(async () => {
  world = await startWorld()
}, 60_000)
afterAll(async () => {
  await world?.close()
})
afterEach(async () => {
  await engine?.stop()
  engine = null
})

async function run(profile?: Profile): Promise<ProxyEngine & { port: number }> {
  engine = await startEngine(profile ? { profile } : {})
  return engine
}

const rule = (id: string, matchers: Rule['matchers'], action: Rule['action']): Rule => ({
  id,
  enabled: true,
  matchers,
  action
})

interface Echo {
  method: string
  url: string
  headers: Record<string, string>
  rawHeaders: string[]
}

describe('direct', () => {
  it('forwards plain HTTP and strips hop-by-hop headers toward the target', async () => {
    const { port } = await run()
    const res = await proxyGet(port, `${world.origin.url}/echo`, {
      headers: {
        'Proxy-Connection': 'keep-alive',
        Connection: 'keep-alive, X-Hop-Secret',
        'X-Hop-Secret': 'must not arrive',
        'Proxy-Authorization': 'Basic c2VjcmV0OnNlY3JldA==',
        'X-End-To-End': 'kept'
      }
    })
    expect(res.status).toBe(200)
    const echo = JSON.parse(res.body.toString()) as Echo
    const names = echo.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
    expect(names).not.toContain('proxy-connection')
    expect(names).not.toContain('x-hop-secret')
    expect(names).not.toContain('proxy-authorization')
    expect(echo.headers['x-end-to-end']).toBe('kept')
  })

  it('tunnels CONNECT to a TLS origin', async () => {
    const { port } = await run()
    const res = await httpsGetViaProxy(
      port,
      '127.0.0.1',
      world.tlsOrigin.port,
      '/bytes/70000',
      world.ca.certPem
    )
    expect(res.status).toBe(200)
    expect(res.body.equals(patternBytes(70000))).toBe(true)
  })

  it('resolves names through the injected lookup (localhost) for HTTP and CONNECT', async () => {
    const { port } = await run()
    expect((await proxyGet(port, `http://localhost:${world.origin.port}/bytes/10`)).status).toBe(200)
    const tls = await httpsGetViaProxy(port, 'localhost', world.tlsOrigin.port, '/bytes/10', world.ca.certPem)
    expect(tls.status).toBe(200)
  })
})

describe.each([
  ['http (squid)', 'squid'],
  ['https (proxy-chain over TLS)', 'https'],
  ['socks5 (microsocks)', 'socks5'],
  ['socks5h (microsocks)', 'socks5h']
] as const)('through an upstream: %s', (_label, key) => {
  const upstream = (): Upstream => world.upstreams[key]

  it('forwards plain HTTP', async () => {
    const { port } = await run(viaProfile(upstream()))
    const res = await proxyGet(port, `${world.origin.url}/bytes/5000`)
    expect(res.status).toBe(200)
    expect(res.body.equals(patternBytes(5000))).toBe(true)
    if (key === 'squid') {
      const seen = world.origin.requests.at(-1)!
      expect(seen.headers.via).toMatch(/squid/)
    }
  })

  it('tunnels CONNECT to a TLS origin', async () => {
    const { port } = await run(viaProfile(upstream()))
    const res = await httpsGetViaProxy(
      port,
      '127.0.0.1',
      world.tlsOrigin.port,
      '/bytes/20000',
      world.ca.certPem
    )
    expect(res.status).toBe(200)
    expect(res.body.equals(patternBytes(20000))).toBe(true)
  })

  it('reports a wrong upstream password as upstream-auth-failed, for HTTP and CONNECT', async () => {
    const wrong = { ...upstream(), password: 'wrong-password' }
    const { port } = await run(viaProfile(wrong))
    const plain = await proxyGet(port, `${world.origin.url}/echo`)
    expect(plain.status).toBe(502)
    expect(plain.headers['x-junction-error']).toBe('upstream-auth-failed')
    expect(plain.body.toString()).toContain(`rejected Junction's username or password`)
    const tunnel = await connectTunnel(port, `127.0.0.1:${world.tlsOrigin.port}`)
    expect(tunnel.status).toBe(502)
    expect(tunnel.headers['x-junction-error']).toBe('upstream-auth-failed')
    expect(tunnel.body).toContain(`upstream proxy "${key}"`)
  })
})

describe('rules', () => {
  const profile = (): Profile => ({
    id: 'rules',
    name: 'Rules',
    upstreams: [world.upstreams.squid],
    rules: [
      rule('trackers', [{ type: 'regex', value: '^tracker\\d+\\.' }], {
        type: 'block',
        status: 451,
        body: 'regex'
      }),
      rule('cdn', [{ type: 'wildcard', value: '*.cdn.*.test' }], {
        type: 'block',
        status: 452,
        body: 'wildcard'
      }),
      rule('ads', [{ type: 'domain', value: 'ads.test' }], {
        type: 'block',
        status: 403,
        body: 'Blocked: ads'
      }),
      rule('high-ports', [{ type: 'port', value: '8000-8999' }], {
        type: 'block',
        status: 454,
        body: 'port'
      }),
      rule(
        'origin',
        [
          { type: 'ip', value: '127.0.0.1' },
          { type: 'port', value: String(world.origin.port) }
        ],
        {
          type: 'upstream',
          upstreamId: 'squid'
        }
      ),
      rule('loopback', [{ type: 'ip', value: '127.0.0.0/8' }], { type: 'block', status: 453, body: 'cidr' }),
      rule('dropped', [{ type: 'host', value: 'drop.test' }], { type: 'reject' })
    ],
    defaultAction: { type: 'direct' }
  })

  it.each([
    ['http://tracker42.example/x', 451, 'regex'],
    ['http://img.cdn.eu.test/', 452, 'wildcard'],
    ['http://x.y.ads.test/', 403, 'Blocked: ads'],
    ['http://ads.test/', 403, 'Blocked: ads'],
    ['http://site.test:8080/', 454, 'port'],
    ['http://127.0.0.2:9/', 453, 'cidr']
  ])('blocks plain HTTP %s with %i', async (url, status, body) => {
    const { port } = await run(profile())
    const res = await proxyGet(port, url)
    expect(res.status).toBe(status)
    expect(res.body.toString()).toBe(body)
    expect(res.headers['x-junction-error']).toBe('blocked')
  })

  it('blocks CONNECT with the rule’s status and body', async () => {
    const { port } = await run(profile())
    const res = await connectTunnel(port, 'www.ads.test:443')
    expect(res.status).toBe(403)
    expect(res.body).toBe('Blocked: ads')
    expect(res.headers['x-junction-error']).toBe('blocked')
  })

  it('routes by CIDR + port to the upstream, first match winning over a broader block', async () => {
    const { port } = await run(profile())
    const res = await proxyGet(port, `${world.origin.url}/echo`)
    expect(res.status).toBe(200)
    expect(world.origin.requests.at(-1)!.headers.via).toMatch(/squid/)
  })

  it('rejects by closing the connection, for HTTP and CONNECT', async () => {
    const { port } = await run(profile())
    const tunnel = await connectTunnel(port, 'drop.test:443')
    expect(tunnel.status).toBe(0)
    expect(['closed', 'reset']).toContain(tunnel.statusText)
    const plain = await rawRequest(port, 'GET http://drop.test/ HTTP/1.1\r\nHost: drop.test\r\n\r\n', 3000)
    expect(plain).toBe('')
  })
})

describe('profile switch', () => {
  it('lets a download in flight finish on its route; the next request takes the new route', async () => {
    const eng = await run()
    const bytes = 3_000_000
    const download = proxyGet(eng.port, `${world.origin.url}/slow?bytes=${bytes}&ms=1500`, {
      timeoutMs: 15_000
    })
    await new Promise((resolve) => setTimeout(resolve, 400))
    eng.applyProfile(viaProfile(world.upstreams.squid))
    expect(eng.state).toMatchObject({ status: 'running', profileId: 'via-squid' })
    const next = await proxyGet(eng.port, `${world.origin.url}/echo`)
    const finished = await download
    expect(finished.status).toBe(200)
    expect(finished.body.length).toBe(bytes)
    expect(finished.body.equals(patternBytes(bytes))).toBe(true)
    const slowRequest = world.origin.requests.find((r) => r.url.startsWith('/slow'))!
    expect(slowRequest.headers.via).toMatch(/^1\.1 junction-[0-9a-f]{6}$/)
    expect(next.status).toBe(200)
    expect((JSON.parse(next.body.toString()) as Echo).headers.via).toMatch(/squid/)
  })

  it('keeps an open tunnel working across a switch', async () => {
    const eng = await run()
    const tunnel = await connectTunnel(eng.port, `127.0.0.1:${world.origin.port}`)
    expect(tunnel.status).toBe(200)
    eng.applyProfile({ ...viaProfile(world.upstreams.dead) })
    const received: Buffer[] = []
    tunnel.socket.on('data', (chunk: Buffer) => received.push(chunk))
    const closed = new Promise((resolve) => tunnel.socket.once('close', resolve))
    tunnel.socket.write('GET /bytes/1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await closed
    const text = Buffer.concat(received).toString()
    expect(text).toMatch(/^HTTP\/1\.1 200 OK/)
    expect(text.endsWith(patternBytes(1000).toString())).toBe(true)
    // …while a new tunnel takes the new (dead) route.
    const after = await connectTunnel(eng.port, `127.0.0.1:${world.origin.port}`)
    expect(after.headers['x-junction-error']).toBe('upstream-refused')
  })
})

describe('failures a user can read', () => {
  it('upstream down: 502 upstream-refused for HTTP and CONNECT', async () => {
    const { port } = await run(viaProfile(world.upstreams.dead))
    const plain = await proxyGet(port, `${world.origin.url}/echo`)
    expect(plain.status).toBe(502)
    expect(plain.headers['x-junction-error']).toBe('upstream-refused')
    expect(plain.body.toString()).toBe(
      `upstream proxy "dead" (http://127.0.0.1:${world.deadPort}) refused the connection.\n`
    )
    const tunnel = await connectTunnel(port, `127.0.0.1:${world.tlsOrigin.port}`)
    expect(tunnel.status).toBe(502)
    expect(tunnel.headers['x-junction-error']).toBe('upstream-refused')
  })

  it('SOCKS upstream down: 502 upstream-refused for HTTP and CONNECT', async () => {
    const { port } = await run(viaProfile({ ...world.upstreams.socks5, port: world.deadPort }))
    const plain = await proxyGet(port, `${world.origin.url}/echo`)
    expect(plain.status).toBe(502)
    expect(plain.headers['x-junction-error']).toBe('upstream-refused')
    const tunnel = await connectTunnel(port, `127.0.0.1:${world.tlsOrigin.port}`)
    expect(tunnel.status).toBe(502)
    expect(tunnel.headers['x-junction-error']).toBe('upstream-refused')
  })

  it('unknown host: 502 dns-failed for HTTP and CONNECT', async () => {
    const { port } = await run()
    const plain = await proxyGet(port, 'http://no-such-host.invalid/')
    expect(plain.status).toBe(502)
    expect(plain.headers['x-junction-error']).toBe('dns-failed')
    expect(plain.body.toString()).toBe(
      'The host name no-such-host.invalid could not be resolved (DNS lookup failed).\n'
    )
    const tunnel = await connectTunnel(port, 'no-such-host.invalid:443')
    expect(tunnel.status).toBe(502)
    expect(tunnel.headers['x-junction-error']).toBe('dns-failed')
  })

  it('target refusing: 502 target-refused for HTTP and CONNECT', async () => {
    const { port } = await run()
    const plain = await proxyGet(port, `http://127.0.0.1:${world.deadPort}/`)
    expect(plain.status).toBe(502)
    expect(plain.headers['x-junction-error']).toBe('target-refused')
    const tunnel = await connectTunnel(port, `127.0.0.1:${world.deadPort}`)
    expect(tunnel.status).toBe(502)
    expect(tunnel.body).toBe(`127.0.0.1:${world.deadPort} refused the connection.\n`)
  })

  it('malformed requests get a 400 and the engine keeps serving', async () => {
    const { port } = await run()
    expect(await rawRequest(port, 'GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    expect(await rawRequest(port, 'GET /relative HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    expect(await rawRequest(port, 'CONNECT nohost HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    expect((await proxyGet(port, `${world.origin.url}/echo`)).status).toBe(200)
  })
})

describe('listening', () => {
  it('requires proxy credentials when configured, and refuses a non-loopback address without them', async () => {
    const { port } = await startEngine({ auth: { username: 'me', password: 'p@ss' } }).then(
      (e) => (engine = e)
    )
    expect((await proxyGet(port, `${world.origin.url}/echo`)).status).toBe(407)
    const authorized = await proxyGet(port, `${world.origin.url}/echo`, {
      headers: { 'Proxy-Authorization': `Basic ${Buffer.from('me:p@ss').toString('base64')}` }
    })
    expect(authorized.status).toBe(200)
    await expect(startEngine({ host: '0.0.0.0' })).rejects.toThrow(
      /Refusing to listen on 0\.0\.0\.0 without a proxy username/
    )
  })

  it('reports a busy port in words and as a failed state', async () => {
    const first = await run()
    const second = new (first.constructor as typeof ProxyEngine)({ port: first.port })
    const states: string[] = []
    second.on('state', (s) => states.push(s.status))
    await expect(second.start()).rejects.toThrow(
      `port ${first.port} on 127.0.0.1 is already in use by another program`
    )
    expect(states).toEqual(['starting', 'failed'])
  })
})
