/**
 * Response body edits and mock responses, over plain HTTP and inside intercepted HTTPS, with real
 * origins: a gzip-compressed HTML page, a chunked JSON document, a body over the edit limit that must
 * pass unchanged, and a mock the origin never sees.
 */
import http from 'node:http'
import tls from 'node:tls'
import zlib from 'node:zlib'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Profile, Rule } from '../../common/model.ts'
import type { LeafIssuer, ProxyEngine } from '../../main/engine/engine.ts'
import { RequestRing } from '../../main/stats/request-log.ts'
import { TrafficStats } from '../../main/stats/traffic-stats.ts'
import { createTestCa, type TestCa } from '../harness/ca.ts'
import { connectTunnel, httpsGetViaProxy } from '../harness/client.ts'
import { startEngine, startWorld, type World } from './world.ts'

let world: World
let junctionCa: TestCa
let issuer: LeafIssuer
let engine: (ProxyEngine & { port: number }) | null = null

beforeAll(async () => {
  world = await startWorld()
  junctionCa = await createTestCa()
  issuer = {
    contextFor: async (host) => {
      const { keyPem, certPem } = await junctionCa.issue([host])
      return tls.createSecureContext({ key: keyPem, cert: certPem })
    }
  }
}, 60_000)
afterAll(async () => {
  await world?.close()
})
afterEach(async () => {
  await engine?.stop()
  engine = null
})

const EDITS: Rule['rewrite'] = {
  responseBody: [
    { find: 'Hello', replace: 'Howdy' },
    { find: '"count":(\\d+)', replace: '"count":"$1"', regex: true }
  ]
}

function profile(extra: Partial<Rule> = { rewrite: EDITS }): Profile {
  return {
    id: 'p',
    name: 'P',
    upstreams: [],
    rules: [
      {
        id: 'edit',
        enabled: true,
        matchers: [{ type: 'wildcard', value: '*' }],
        action: { type: 'direct' },
        intercept: true,
        ...extra
      }
    ],
    defaultAction: { type: 'direct' }
  }
}

async function run(rule?: Partial<Rule>, ring?: RequestRing): Promise<number> {
  engine = await startEngine({
    profile: profile(rule),
    authority: issuer,
    trustedCas: [world.ca.certPem],
    ...(ring ? { stats: new TrafficStats({ ring }) } : {})
  })
  return engine.port
}

/** A plain-HTTP GET through the proxy; the body as received (not decompressed). */
function get(port: number, url: string): Promise<{ res: http.IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: url }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.once('end', () => resolve({ res, body: Buffer.concat(chunks) }))
      })
      .once('error', reject)
  })
}

describe('response body edits', () => {
  it('edit a gzip-compressed HTML page over plain HTTP: still gzip, new length, no stale ETag', async () => {
    const port = await run()
    const { res, body } = await get(port, `${world.origin.url}/gzip-html`)
    expect(res.headers['content-encoding']).toBe('gzip')
    expect(Number(res.headers['content-length'])).toBe(body.length)
    expect(res.headers.etag).toBeUndefined()
    expect(zlib.gunzipSync(body).toString()).toBe(
      '<html><body><h1>Howdy, world</h1><p>Howdy again</p></body></html>'
    )
  })

  it('edit a chunked JSON response with an RE2 expression over plain HTTP', async () => {
    const port = await run()
    const { res, body } = await get(port, `${world.origin.url}/chunked-json`)
    expect(res.headers['content-length']).toBe(String(body.length))
    expect(JSON.parse(body.toString())).toEqual({ items: [{ count: '1' }, { count: '22' }], ok: true })
  })

  it('edit both inside intercepted HTTPS', async () => {
    const port = await run()
    const page = await httpsGetViaProxy(
      port,
      'localhost',
      world.tlsOrigin.port,
      '/gzip-html',
      junctionCa.certPem
    )
    expect(zlib.gunzipSync(page.body).toString()).toContain('Howdy, world')
    const json = await httpsGetViaProxy(
      port,
      'localhost',
      world.tlsOrigin.port,
      '/chunked-json',
      junctionCa.certPem
    )
    expect(JSON.parse(json.body.toString())).toEqual({ items: [{ count: '1' }, { count: '22' }], ok: true })
  })

  it('passes a 100 MiB body over the limit unchanged, and says so in the log', async () => {
    const ring = new RequestRing(10)
    const port = await run({ rewrite: EDITS }, ring)
    const size = 100 * 1024 * 1024
    let received = 0
    let edited = false
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: `${world.origin.url}/text/${size}` }, (res) => {
          res.on('data', (c: Buffer) => {
            received += c.length
            if (!edited && c.includes('Howdy')) edited = true
          })
          res.once('end', resolve)
        })
        .once('error', reject)
    })
    expect(received).toBe(size)
    expect(edited).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(ring.list()[0]).toMatchObject({ status: 200, error: 'body-not-edited' })
  })
})

describe('request body edits', () => {
  it('edit a JSON request body over plain HTTP and inside intercepted HTTPS, with its new length', async () => {
    const port = await run({
      rewrite: { requestBody: [{ find: '"role":"(\\w+)"', replace: '"role":"admin-$1"', regex: true }] }
    })
    const json = '{"name":"ann","role":"user"}'
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: `${world.origin.url}/upload`,
          headers: { 'content-type': 'application/json', 'content-length': json.length }
        },
        (res) => {
          res.resume()
          res.once('end', resolve)
        }
      )
      req.once('error', reject)
      req.end(json)
    })
    const received = world.origin.requests.at(-1)!
    expect(received.bodyStart).toBe('{"name":"ann","role":"admin-user"}')
    expect(received.headers['content-length']).toBe(String(received.bodyStart.length))
    const secure = await httpsRequestViaProxy(port, world.tlsOrigin.port, 'POST', json)
    expect(secure.status).toBe(404)
    expect(world.tlsOrigin.requests.at(-1)!.bodyStart).toBe('{"name":"ann","role":"admin-user"}')
  })
})

describe('mock responses', () => {
  const mock: Partial<Rule> = {
    respondWith: { status: 418, headers: [{ name: 'X-Mock', value: 'yes' }], body: 'short and stout' }
  }

  it('answer plain HTTP and intercepted HTTPS without contacting the origin', async () => {
    const port = await run(mock)
    const before = [world.origin.requests.length, world.tlsOrigin.requests.length]
    const plain = await get(port, `${world.origin.url}/echo`)
    expect([plain.res.statusCode, plain.res.headers['x-mock'], plain.body.toString()]).toEqual([
      418,
      'yes',
      'short and stout'
    ])
    const secure = await httpsGetViaProxy(
      port,
      'localhost',
      world.tlsOrigin.port,
      '/echo',
      junctionCa.certPem
    )
    expect([secure.status, secure.body.toString()]).toEqual([418, 'short and stout'])
    expect([world.origin.requests.length, world.tlsOrigin.requests.length]).toEqual(before)
  })
})

describe('request matchers', () => {
  it('match plain HTTP by path and intercepted HTTPS by method, never a CONNECT', async () => {
    engine = await startEngine({
      authority: issuer,
      trustedCas: [world.ca.certPem],
      profile: {
        id: 'p',
        name: 'P',
        upstreams: [],
        rules: [
          {
            id: 'api-mock',
            enabled: true,
            matchers: [{ type: 'path', value: '/api/' }],
            action: { type: 'direct' },
            respondWith: { status: 200, body: '{"mocked":true}' }
          },
          {
            id: 'no-writes',
            enabled: true,
            matchers: [
              { type: 'host', value: 'localhost' },
              { type: 'method', value: 'POST,PUT' }
            ],
            action: { type: 'block', status: 405, body: 'read only' }
          },
          {
            id: 'open',
            enabled: true,
            matchers: [{ type: 'host', value: 'localhost' }],
            action: { type: 'direct' },
            intercept: true
          }
        ],
        defaultAction: { type: 'direct' }
      }
    })
    const port = engine.port
    const mocked = await get(port, `${world.origin.url}/api/users?x=1`)
    expect(mocked.body.toString()).toBe('{"mocked":true}')
    const real = await get(port, `${world.origin.url}/echo`)
    expect(JSON.parse(real.body.toString())).toMatchObject({ url: '/echo' })
    // The CONNECT itself is not blocked by the method rule: it has no method to match.
    const read = await httpsGetViaProxy(port, 'localhost', world.tlsOrigin.port, '/echo', junctionCa.certPem)
    expect(read.status).toBe(200)
    const write = await httpsRequestViaProxy(port, world.tlsOrigin.port, 'POST')
    expect([write.status, write.body]).toEqual([405, 'read only'])
  })
})

/** One request of `method` inside an intercepted tunnel to localhost:`originPort`. */
async function httpsRequestViaProxy(
  port: number,
  originPort: number,
  method: string,
  body = '{}'
): Promise<{ status: number; body: string }> {
  const tunnel = await connectTunnel(port, `localhost:${originPort}`)
  const secure = tls.connect({ socket: tunnel.socket, servername: 'localhost', ca: junctionCa.certPem })
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve)
    secure.once('error', reject)
  })
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        createConnection: () => secure,
        method,
        path: '/echo',
        headers: {
          host: `localhost:${originPort}`,
          'content-length': Buffer.byteLength(body),
          'content-type': 'application/json'
        }
      },
      (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.once('end', () => resolve({ status: res.statusCode!, body: text }))
      }
    )
    req.once('error', reject)
    req.end(body)
  })
}
