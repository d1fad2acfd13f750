import https from 'node:https'
import net from 'node:net'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestCa } from './ca.ts'
import type { TestCa } from './ca.ts'
import { basicAuth, connectTunnel, httpsGetViaProxy, proxyGet, rawRequest, socks5Connect } from './client.ts'
import { startHttpsUpstream } from './https-upstream.ts'
import { startMicrosocks } from './microsocks.ts'
import { patternBytes, startOrigin } from './origin.ts'
import type { Origin } from './origin.ts'
import { closedPort, freePort, lowestEphemeralPort, waitForPort } from './ports.ts'
import { startSquid } from './squid.ts'
import type { Upstream } from './squid.ts'

// Throwaway credentials; the password deliberately contains characters that need escaping in URLs and
// that squid's helper protocol URL-encodes.
const USER = 'junction'
const PASS = 'p@ss:w/rd%'

type Echo = { method: string; url: string; headers: Record<string, string>; rawHeaders: string[] }

function httpsRequest(
  options: https.RequestOptions
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ ...options, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
      )
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('https request timed out')))
    req.on('error', reject)
    req.end()
  })
}

function readUntilClose(socket: net.Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const done = (): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks).toString('latin1'))
    }
    const timer = setTimeout(done, timeoutMs)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('close', done)
  })
}

let ca: TestCa
let origin: Origin
let tlsOrigin: Origin

beforeAll(async () => {
  ca = await createTestCa()
  const leaf = await ca.issue(['localhost', '127.0.0.1'])
  origin = await startOrigin()
  tlsOrigin = await startOrigin({ tls: leaf })
})

afterAll(async () => {
  await Promise.all([origin?.close(), tlsOrigin?.close()])
})

describe('ports', () => {
  it('hands out a bindable port and times out waiting on a closed one', async () => {
    const port = await freePort()
    expect(port).toBeGreaterThan(1023)
    const started = Date.now()
    await expect(waitForPort(port, 300)).rejects.toThrow(/within 300 ms/)
    expect(Date.now() - started).toBeLessThan(2000)
    await waitForPort(origin.port, 1000)
  })

  it('hands out a refusing port below the range listen(0) draws from', async () => {
    const port = await closedPort()
    expect(port).toBeLessThan(lowestEphemeralPort())
    const refused = await new Promise<string | undefined>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => (socket.destroy(), resolve('connected')))
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code))
    })
    expect(refused).toBe('ECONNREFUSED')
  })
})

describe('origin', () => {
  it('echoes the request over plain http and records it', async () => {
    const before = origin.requests.length
    const raw = await rawRequest(
      origin.port,
      'GET /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Mixed-Case: Yes\r\nConnection: close\r\n\r\n'
    )
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    const echo = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Echo
    expect(echo.method).toBe('GET')
    expect(echo.url).toBe('/echo?x=1')
    expect(echo.headers['x-mixed-case']).toBe('Yes')
    expect(echo.rawHeaders).toContain('X-Mixed-Case')
    expect(origin.requests.length).toBe(before + 1)
    expect(origin.requests.at(-1)?.url).toBe('/echo?x=1')
  })

  it('serves bytes, slow streams, uploads, statuses and 404', async () => {
    const bytes = await rawRequest(
      origin.port,
      'GET /bytes/1000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
    )
    expect(bytes).toMatch(/\r\ncontent-length: 1000\r\n/i)
    expect(bytes.slice(bytes.indexOf('\r\n\r\n') + 4)).toBe(patternBytes(1000).toString('latin1'))

    const started = Date.now()
    const slow = await rawRequest(
      origin.port,
      'GET /slow?bytes=5000&ms=400 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
    )
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
    expect(slow).toMatch(/\r\ncontent-length: 5000\r\n/i)
    expect(slow.slice(slow.indexOf('\r\n\r\n') + 4)).toBe(patternBytes(5000).toString('latin1'))

    const upload = await rawRequest(
      origin.port,
      'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world'
    )
    expect(upload.slice(upload.indexOf('\r\n\r\n') + 4)).toBe('{"received":11}')
    expect(origin.requests.at(-1)?.bodyBytes).toBe(11)

    const status = await rawRequest(
      origin.port,
      'GET /status/418 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
    )
    expect(status).toMatch(/^HTTP\/1\.1 418 /)
    expect(status.endsWith('status 418')).toBe(true)

    const missing = await rawRequest(
      origin.port,
      'GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
    )
    expect(missing).toMatch(/^HTTP\/1\.1 404 /)
    expect(missing.endsWith('not found')).toBe(true)
  })

  it('serves https with a certificate the test CA vouches for', async () => {
    expect(tlsOrigin.url).toBe(`https://127.0.0.1:${tlsOrigin.port}`)
    const res = await httpsRequest({ host: '127.0.0.1', port: tlsOrigin.port, path: '/echo', ca: ca.certPem })
    expect(res.status).toBe(200)
    expect((JSON.parse(res.body.toString()) as Echo).url).toBe('/echo')

    const viaName = await httpsRequest({
      host: '127.0.0.1',
      servername: 'localhost',
      port: tlsOrigin.port,
      path: '/bytes/10',
      ca: ca.certPem
    })
    expect(viaName.body.length).toBe(10)

    await expect(httpsRequest({ host: '127.0.0.1', port: tlsOrigin.port, path: '/echo' })).rejects.toThrow(
      /self-signed|unable to verify|local issuer/i
    )
  })
})

describe('client edge cases', () => {
  let closer: net.Server
  let resetter: net.Server
  beforeAll(async () => {
    // resume() so the server sees the client's FIN; an unread socket would keep server.close() waiting.
    closer = net.createServer((s) => s.resume().end())
    resetter = net.createServer((s) => s.once('data', () => s.resetAndDestroy()))
    await Promise.all(
      [closer, resetter].map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r())))
    )
  })
  afterAll(async () => {
    await Promise.all([closer, resetter].map((srv) => new Promise<void>((r) => srv.close(() => r()))))
  })

  it('connectTunnel resolves with status 0 when the proxy closes or resets', async () => {
    const closed = await connectTunnel((closer.address() as net.AddressInfo).port, '127.0.0.1:1')
    expect(closed.status).toBe(0)
    expect(closed.statusText).toBe('closed')
    const reset = await connectTunnel((resetter.address() as net.AddressInfo).port, '127.0.0.1:1')
    expect(reset.status).toBe(0)
    expect(reset.statusText).toBe('reset')
  })

  it('rawRequest rejects when nothing listens', async () => {
    const port = await freePort()
    await expect(rawRequest(port, 'x')).rejects.toThrow(/ECONNREFUSED/)
  })
})

describe('squid upstream', () => {
  let squid: Upstream
  beforeAll(async () => {
    squid = await startSquid({ username: USER, password: PASS })
  })
  afterAll(async () => {
    await squid?.close()
  })

  it('proxies GET with correct credentials and adds Via', async () => {
    const res = await proxyGet(squid.port, `${origin.url}/echo`, {
      headers: { 'Proxy-Authorization': basicAuth(USER, PASS) }
    })
    expect(res.status).toBe(200)
    const echo = JSON.parse(res.body.toString()) as Echo
    expect(echo.url).toBe('/echo')
    expect(echo.headers['via']).toContain('squid')
    // Squid consumes the credentials meant for it.
    expect(echo.headers['proxy-authorization']).toBeUndefined()
    const seen = origin.requests.at(-1)
    expect(seen?.headers['via']).toMatch(/squid/)
  })

  it('answers 407 to a wrong password or missing credentials', async () => {
    const wrong = await proxyGet(squid.port, `${origin.url}/echo`, {
      headers: { 'Proxy-Authorization': basicAuth(USER, 'wrong') }
    })
    expect(wrong.status).toBe(407)
    expect(wrong.headers['proxy-authenticate']).toContain('Basic')
    const none = await proxyGet(squid.port, `${origin.url}/echo`)
    expect(none.status).toBe(407)
  })

  it('tunnels CONNECT to the https origin with correct credentials', async () => {
    const res = await httpsGetViaProxy(squid.port, '127.0.0.1', tlsOrigin.port, '/echo', ca.certPem, {
      proxyHeaders: { 'Proxy-Authorization': basicAuth(USER, PASS) }
    })
    expect(res.status).toBe(200)
    const echo = JSON.parse(res.body.toString()) as Echo
    expect(echo.url).toBe('/echo')
    // Inside a tunnel squid cannot add headers.
    expect(echo.headers['via']).toBeUndefined()
  })

  it('hands back a usable plain socket from a successful CONNECT', async () => {
    const tunnel = await connectTunnel(squid.port, `127.0.0.1:${origin.port}`, {
      headers: { 'Proxy-Authorization': basicAuth(USER, PASS) }
    })
    expect(tunnel.status).toBe(200)
    expect(tunnel.statusText).toBe('Connection established')
    tunnel.socket.write('GET /bytes/3000 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    const response = await readUntilClose(tunnel.socket, 5000)
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(response.slice(response.indexOf('\r\n\r\n') + 4)).toBe(patternBytes(3000).toString('latin1'))
  })

  it('refuses CONNECT with wrong credentials with a 407', async () => {
    const tunnel = await connectTunnel(squid.port, `127.0.0.1:${tlsOrigin.port}`, {
      headers: { 'Proxy-Authorization': basicAuth(USER, 'wrong') }
    })
    expect(tunnel.status).toBe(407)
    expect(tunnel.headers['proxy-authenticate']).toContain('Basic')
    expect(tunnel.socket.destroyed).toBe(true)
    await expect(
      httpsGetViaProxy(squid.port, '127.0.0.1', tlsOrigin.port, '/echo', ca.certPem)
    ).rejects.toThrow(/answered 407/)
  })
})

describe('microsocks upstream', () => {
  let socks: Upstream
  beforeAll(async () => {
    socks = await startMicrosocks({ username: USER, password: PASS })
  })
  afterAll(async () => {
    await socks?.close()
  })

  it('connects with the right credentials and carries a request to the origin', async () => {
    const result = await socks5Connect(
      socks.port,
      { username: USER, password: PASS },
      '127.0.0.1',
      origin.port
    )
    expect(result.ok).toBe(true)
    expect(result.reply).toBe(0)
    result.socket.write('GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    const response = await readUntilClose(result.socket, 5000)
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(response).toContain('"url":"/echo"')
  })

  it('refuses a wrong password at the auth stage', async () => {
    const result = await socks5Connect(
      socks.port,
      { username: USER, password: 'wrong' },
      '127.0.0.1',
      origin.port
    )
    expect(result.ok).toBe(false)
    expect(result.failedAt).toBe('auth')
  })

  it('refuses clients that offer no authentication', async () => {
    const result = await socks5Connect(socks.port, undefined, '127.0.0.1', origin.port)
    expect(result.ok).toBe(false)
    expect(result.failedAt).toBe('method')
  })
})

describe('https upstream (proxy-chain over TLS)', () => {
  let upstream: Upstream
  beforeAll(async () => {
    const leaf = await ca.issue(['localhost', '127.0.0.1'])
    upstream = await startHttpsUpstream({ ...leaf, username: USER, password: PASS })
  })
  afterAll(async () => {
    await upstream?.close()
  })

  it('proxies a GET with the right credentials', async () => {
    const res = await httpsRequest({
      host: '127.0.0.1',
      port: upstream.port,
      path: `${origin.url}/echo`,
      ca: ca.certPem,
      headers: { host: `127.0.0.1:${origin.port}`, 'proxy-authorization': basicAuth(USER, PASS) }
    })
    expect(res.status).toBe(200)
    const echo = JSON.parse(res.body.toString()) as Echo
    expect(echo.url).toBe('/echo')
    expect(echo.headers['proxy-authorization']).toBeUndefined()
  })

  it('answers 407 with wrong credentials', async () => {
    const res = await httpsRequest({
      host: '127.0.0.1',
      port: upstream.port,
      path: `${origin.url}/echo`,
      ca: ca.certPem,
      headers: { host: `127.0.0.1:${origin.port}`, 'proxy-authorization': basicAuth(USER, 'wrong') }
    })
    expect(res.status).toBe(407)
    expect(String(res.headers['proxy-authenticate'])).toContain('Basic')
  })

  it('tunnels CONNECT over its TLS connection', async () => {
    const outer = tls.connect({ host: '127.0.0.1', port: upstream.port, ca: ca.certPem })
    await new Promise<void>((resolve, reject) => {
      outer.once('secureConnect', resolve)
      outer.once('error', reject)
    })
    outer.write(
      `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n` +
        `Proxy-Authorization: ${basicAuth(USER, PASS)}\r\n\r\n`
    )
    const head = await new Promise<string>((resolve) => {
      let text = ''
      const onData = (c: Buffer): void => {
        text += c.toString('latin1')
        if (text.includes('\r\n\r\n')) {
          outer.off('data', onData)
          resolve(text)
        }
      }
      outer.on('data', onData)
    })
    expect(head).toMatch(/^HTTP\/1\.1 200 /)
    outer.write('GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    const response = await readUntilClose(outer, 5000)
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
  })
})

describe('lifecycle', () => {
  it('close() stops squid and microsocks so their ports stop accepting', async () => {
    const squid = await startSquid({ username: USER, password: PASS })
    const socks = await startMicrosocks({ username: USER, password: PASS })
    await waitForPort(squid.port, 1000)
    await waitForPort(socks.port, 1000)
    await Promise.all([squid.close(), socks.close()])
    await expect(waitForPort(squid.port, 200)).rejects.toThrow()
    await expect(waitForPort(socks.port, 200)).rejects.toThrow()
  })
})
