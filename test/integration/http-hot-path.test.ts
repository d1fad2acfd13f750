/**
 * What the plain-HTTP forward path keeps while doing less per request (BENCHMARKS.md, HTTP hot path):
 * a keep-alive connection reuses its previous route only while nothing the decision depends on
 * changed; a response body is relayed with backpressure without `pipe()`; a bodiless request is sent
 * whole; and a `101` to a request that asked for no upgrade is answered 502, where it used to hang.
 */
import http from 'node:http'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { Profile, Rule } from '../../common/model.ts'
import type { ProxyEngine } from '../../main/engine/engine.ts'
import { startEngine } from './world.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function engineWith(profile: Profile): Promise<ProxyEngine & { port: number }> {
  const engine = await startEngine({ profile })
  cleanups.push(() => engine.stop())
  return engine
}

function profileWith(rules: Rule[], id = 'p'): Profile {
  return { id, name: id, upstreams: [], rules, defaultAction: { type: 'direct' } }
}

const block = (id: string, matchers: Rule['matchers']): Rule => ({
  id,
  enabled: true,
  matchers,
  action: { type: 'block', status: 403, body: `blocked by ${id}` }
})

/** An origin answering every request with its method and path, counting what it served. */
async function echoOrigin(): Promise<{ port: number; served: string[] }> {
  const served: string[] = []
  const server = http.createServer((req, res) => {
    served.push(`${req.method} ${req.url}`)
    res.end(`${req.method} ${req.url}`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as net.AddressInfo).port, served }
}

/** Requests through the proxy on one keep-alive connection (an agent with a single socket). */
function keepAliveClient(proxyPort: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  cleanups.push(() => agent.destroy())
  const ports = new Set<number>()
  const get = (url: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: proxyPort, path: url, agent }, (res) => {
        ports.add(res.socket.localPort!)
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.once('end', () => resolve({ status: res.statusCode!, body }))
      })
      req.once('error', reject)
    })
  return { get, connections: () => ports.size }
}

describe('a keep-alive connection and its route', () => {
  it('routes the next request by the profile in force, not the one its previous request had', async () => {
    const origin = await echoOrigin()
    const engine = await engineWith(profileWith([]))
    const client = keepAliveClient(engine.port)
    const url = `http://127.0.0.1:${origin.port}/a`
    expect(await client.get(url)).toEqual({ status: 200, body: 'GET /a' })
    engine.applyProfile(profileWith([block('stop', [{ type: 'ip', value: '127.0.0.1' }])], 'q'))
    expect(await client.get(url)).toEqual({ status: 403, body: 'blocked by stop' })
    engine.applyProfile(profileWith([]))
    expect(await client.get(url)).toEqual({ status: 200, body: 'GET /a' })
    // One connection carried all three: the route changed on it, between requests.
    expect(client.connections()).toBe(1)
    expect(origin.served).toEqual(['GET /a', 'GET /a'])
  })

  it('decides again for every request when a rule looks at the path, and for another host', async () => {
    const origin = await echoOrigin()
    const engine = await engineWith(
      profileWith([
        block('admin', [{ type: 'path', value: '/admin' }]),
        block('other-host', [{ type: 'host', value: 'localhost' }])
      ])
    )
    const client = keepAliveClient(engine.port)
    const at = (host: string, path: string): string => `http://${host}:${origin.port}${path}`
    expect((await client.get(at('127.0.0.1', '/ok'))).status).toBe(200)
    expect(await client.get(at('127.0.0.1', '/admin'))).toEqual({ status: 403, body: 'blocked by admin' })
    expect((await client.get(at('127.0.0.1', '/ok?again'))).status).toBe(200)
    expect((await client.get(at('localhost', '/ok'))).status).toBe(403)
    expect((await client.get(at('127.0.0.1', '/ok'))).status).toBe(200)
    expect(client.connections()).toBe(1)
    expect(origin.served).toEqual(['GET /ok', 'GET /ok?again', 'GET /ok'])
  })

  it('forwards each request of a keep-alive connection to its own path, the URL parsed anew', async () => {
    const origin = await echoOrigin()
    const engine = await engineWith(profileWith([]))
    const client = keepAliveClient(engine.port)
    const paths = ['/x', '/x', '/y/../z', '/x?q=1', '/x']
    const bodies: string[] = []
    for (const path of paths) bodies.push((await client.get(`http://127.0.0.1:${origin.port}${path}`)).body)
    // The URL parser's normalisation (dot segments) applies to every request, repeated or not.
    expect(bodies).toEqual(['GET /x', 'GET /x', 'GET /z', 'GET /x?q=1', 'GET /x'])
    expect(client.connections()).toBe(1)
  })
})

describe('relaying a response body', () => {
  it('holds the origin back while the client does not read, then delivers every byte', async () => {
    const total = 64 * 1024 * 1024
    const chunk = Buffer.alloc(64 * 1024, 'b')
    let written = 0
    let finished = false
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(total) })
      const pump = (): void => {
        while (written < total) {
          written += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        finished = true
        res.end()
      }
      pump()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    })
    const originPort = (server.address() as net.AddressInfo).port
    const engine = await engineWith(profileWith([]))

    const socket = net.connect(engine.port, '127.0.0.1')
    cleanups.push(() => void socket.destroy())
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(`GET http://127.0.0.1:${originPort}/big HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`)
    // The client reads nothing for a while: the bytes in flight are bounded by socket buffers on
    // both sides of Junction, not by the body's size.
    socket.pause()
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const heldBack = written
    expect(finished).toBe(false)
    expect(heldBack).toBeLessThan(total / 4)

    let received = 0
    socket.on('data', (data: Buffer) => (received += data.length))
    socket.resume()
    const deadline = Date.now() + 30_000
    while (received < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(finished).toBe(true)
    // The head and then exactly the body.
    expect(received).toBeGreaterThan(total)
    expect(received).toBeLessThan(total + 1024)
  }, 45_000)

  it('cuts the client off when the origin dies mid-body', async () => {
    let originSocket: net.Socket | null = null
    const server = net.createServer((socket) => {
      originSocket = socket
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nhalf'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const originPort = (server.address() as net.AddressInfo).port
    const engine = await engineWith(profileWith([]))
    const socket = net.connect(engine.port, '127.0.0.1')
    cleanups.push(() => void socket.destroy())
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (data: string) => {
      text += data
      if (text.endsWith('half')) originSocket!.destroy()
    })
    socket.on('error', () => undefined)
    socket.write(`GET http://127.0.0.1:${originPort}/ HTTP/1.1\r\nHost: x\r\n\r\n`)
    const closed = await new Promise<boolean>((resolve) => {
      socket.once('close', () => resolve(true))
      setTimeout(() => resolve(false), 5000)
    })
    expect(text.startsWith('HTTP/1.1 200 OK')).toBe(true)
    expect(closed).toBe(true)
  })
})

describe('what a target answers', () => {
  it('answers 502 at once when a target switches protocols for a request that asked for no upgrade', async () => {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined)
      socket.once('data', () =>
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\n')
      )
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const originPort = (server.address() as net.AddressInfo).port
    const engine = await startEngine({ profile: profileWith([]), timeouts: { responseHeadersMs: 10_000 } })
    cleanups.push(() => engine.stop())
    const started = Date.now()
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(engine.port, '127.0.0.1')
      let text = ''
      socket.setEncoding('latin1')
      socket.on('data', (data: string) => (text += data))
      socket.once('close', () => resolve(text))
      socket.on('error', () => resolve(text))
      socket.write(`GET http://127.0.0.1:${originPort}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      setTimeout(() => {
        socket.destroy()
        resolve(text)
      }, 5000)
    })
    // Not at the response timeout (10 s here): the 101 itself is the failure.
    expect(answer).toMatch(/^HTTP\/1\.1 502 /)
    expect(answer).toContain('switched protocols unasked')
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
