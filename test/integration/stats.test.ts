/**
 * Traffic statistics against real traffic: byte accuracy, rates, closing connections, bounded
 * snapshots with thousands of open tunnels.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import tls from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Profile } from '../../common/model.ts'
import type { ProxyEngine } from '../../main/engine/engine.ts'
import { HistoryStore } from '../../main/stats/history-store.ts'
import { RequestRing } from '../../main/stats/request-log.ts'
import { TrafficStats } from '../../main/stats/traffic-stats.ts'
import { connectTunnel } from '../harness/client.ts'
import { startEngine, startWorld, viaProfile, type World } from './world.ts'

let world: World
let engine: (ProxyEngine & { port: number }) | null = null
let stats: TrafficStats
let ring: RequestRing
let history: HistoryStore

beforeAll(async () => {
  world = await startWorld()
}, 60_000)
afterAll(async () => {
  await world?.close()
})
afterEach(async () => {
  await engine?.stop()
  await stats?.stop()
  engine = null
})

async function run(profile?: Profile): Promise<ProxyEngine & { port: number }> {
  ring = new RequestRing(100)
  history = new HistoryStore(null)
  stats = new TrafficStats({ ring, history })
  engine = await startEngine({ stats, ...(profile ? { profile } : {}) })
  return engine
}

/** Resolves when `check` returns a value, polling every 20 ms for at most `ms`. */
async function until<T>(check: () => T | undefined | null | false, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = check()
    if (value) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Sends a request that asks for `Connection: close` on a fresh socket and reads until the server
 * closes. The client never half-closes first, so every byte it sends reaches the proxy.
 */
function exchange(port: number, request: Buffer): Promise<{ sent: number; received: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve({ sent: socket.bytesWritten, received: Buffer.concat(chunks) }))
    socket.write(request)
  })
}

/**
 * CONNECT + TLS + one keep-alive GET, counting bytes on the raw client socket (TLS records included).
 * The client closes (close_notify, then FIN) once the whole body is in, so the proxy reads all it sent.
 */
function tlsExchange(
  port: number,
  target: number,
  path: string,
  ca: string
): Promise<{ sent: number; read: number; body: string }> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, '127.0.0.1')
    raw.on('error', reject)
    raw.write(`CONNECT 127.0.0.1:${target} HTTP/1.1\r\nHost: 127.0.0.1:${target}\r\n\r\n`)
    raw.once('data', (head: Buffer) => {
      if (!head.toString().startsWith('HTTP/1.1 200')) return reject(new Error(head.toString()))
      const secure = tls.connect({ socket: raw, ca, host: '127.0.0.1' })
      let body = Buffer.alloc(0)
      secure.on('data', (c: Buffer) => {
        body = Buffer.concat([body, c])
        const text = body.toString('latin1')
        const split = text.indexOf('\r\n\r\n')
        const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? NaN)
        if (split !== -1 && body.length - split - 4 >= length) secure.end()
      })
      secure.on('error', reject)
      secure.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
      raw.on('close', () => resolve({ sent: raw.bytesWritten, read: raw.bytesRead, body: body.toString() }))
    })
  })
}

describe('byte accuracy', () => {
  const upload = Buffer.alloc(100_000, 'u')

  it.each([
    ['direct', undefined],
    ['via squid', 'squid']
  ] as const)(
    'plain HTTP %s: counted bytes equal the bytes the client sent and received',
    async (_label, via) => {
      const { port } = await run(via ? viaProfile(world.upstreams[via]) : undefined)
      const request = Buffer.concat([
        Buffer.from(
          `POST ${world.origin.url}/upload HTTP/1.1\r\nHost: 127.0.0.1:${world.origin.port}\r\nContent-Length: ${upload.length}\r\nConnection: close\r\n\r\n`
        ),
        upload
      ])
      const { sent, received } = await exchange(port, request)
      expect(received.toString()).toMatch(/^HTTP\/1\.1 200[\s\S]*"received":100000/)
      const entry = await until(() => ring.list(1)[0])
      expect(entry).toMatchObject({
        method: 'POST',
        host: '127.0.0.1',
        port: world.origin.port,
        status: 200,
        error: null
      })
      expect(entry.route).toBe(via ?? 'direct')
      expect(entry.up).toBe(sent)
      expect(entry.down).toBe(received.length)
      stats.tick()
      const [host] = history.topHosts(Date.now() - 60_000, Date.now() + 60_000, 1)
      expect(host).toEqual({ host: '127.0.0.1', up: sent, down: received.length })
      expect(stats.snapshot.totalUp).toBe(sent)
      expect(stats.snapshot.totalDown).toBe(received.length)
    }
  )

  it.each([
    ['direct', undefined],
    ['via squid', 'squid']
  ] as const)('CONNECT %s: counted bytes equal the bytes on the client socket', async (_label, via) => {
    const { port } = await run(via ? viaProfile(world.upstreams[via]) : undefined)
    const result = await tlsExchange(port, world.tlsOrigin.port, '/bytes/250000', world.ca.certPem)
    expect(result.body).toMatch(/^HTTP\/1\.1 200/)
    expect(result.read).toBeGreaterThan(250_000)
    const entry = await until(() => ring.list(1)[0])
    expect(entry).toMatchObject({ method: 'CONNECT', status: 200, error: null, route: via ?? 'direct' })
    expect(entry.up).toBe(result.sent)
    expect(entry.down).toBe(result.read)
    stats.tick()
    expect(stats.snapshot).toMatchObject({ totalUp: result.sent, totalDown: result.read, openCount: 0 })
  })

  it('attributes each request on one keep-alive connection to its own host', async () => {
    const { port } = await run()
    const socket = net.connect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])))
    const responses = (n: number) => until(() => received.toString('latin1').split('HTTP/1.1 200').length > n)
    const get = (host: string, bytes: number) =>
      `GET http://${host}:${world.origin.port}/bytes/${bytes} HTTP/1.1\r\nHost: ${host}:${world.origin.port}\r\n\r\n`
    socket.write(get('127.0.0.1', 3000))
    await responses(1)
    socket.write(get('127.0.0.1', 1000))
    await responses(2)
    socket.write(get('localhost', 7000))
    await responses(3)
    const closed = new Promise((resolve) => socket.once('close', resolve))
    socket.end()
    await closed
    await until(() => stats.tick().openCount === 0)
    const hosts = history.topHosts(0, Date.now() + 60_000, 10)
    const [local, loopback] = [
      hosts.find((h) => h.host === 'localhost')!,
      hosts.find((h) => h.host === '127.0.0.1')!
    ]
    // Every byte of the connection is counted once, each request's to its own host.
    expect(local.up + loopback.up).toBe(socket.bytesWritten)
    expect(local.down + loopback.down).toBe(socket.bytesRead)
    expect(loopback.down).toBeGreaterThan(4000)
    expect(loopback.down).toBeLessThan(5000)
    expect(local.down).toBeGreaterThan(7000)
    expect(local.down).toBeLessThan(8000)
    expect(ring.list(3).map((e) => [e.host, e.connectionId])).toEqual([
      ['localhost', ring.list(1)[0]!.connectionId],
      ['127.0.0.1', ring.list(1)[0]!.connectionId],
      ['127.0.0.1', ring.list(1)[0]!.connectionId]
    ])
  })

  it('logs blocked and failed requests with their status and error code', async () => {
    const { port } = await run({
      id: 'b',
      name: 'B',
      upstreams: [world.upstreams.dead],
      rules: [
        {
          id: 'no-ads',
          enabled: true,
          matchers: [{ type: 'domain', value: 'ads.test' }],
          action: { type: 'block', status: 403, body: 'no' }
        },
        {
          id: 'dead',
          enabled: true,
          matchers: [{ type: 'domain', value: 'dead.test' }],
          action: { type: 'upstream', upstreamId: 'dead' }
        }
      ],
      defaultAction: { type: 'direct' }
    })
    // A blocked request keeps its keep-alive connection; the client closes it.
    await exchange(
      port,
      Buffer.from('GET http://x.ads.test/ HTTP/1.1\r\nHost: x.ads.test\r\nConnection: close\r\n\r\n')
    )
    await connectTunnel(port, 'dead.test:443')
    await connectTunnel(port, 'nowhere.invalid:443')
    const entries = await until(() => (ring.size >= 3 ? ring.list() : null))
    expect(entries.map((e) => [e.method, e.host, e.status, e.error, e.ruleId, e.route])).toEqual([
      ['CONNECT', 'nowhere.invalid', 502, 'dns-failed', null, 'direct'],
      ['CONNECT', 'dead.test', 502, 'upstream-refused', 'dead', 'dead'],
      ['GET', 'x.ads.test', 403, 'blocked', 'no-ads', 'block']
    ])
  })
})

describe('live figures', () => {
  it('reads a throttled download back at the rate it was sent, within ±10%', async () => {
    // 50 chunks of 10 KiB per second = 512,000 B/s for 4 s, so every 1 s window sees 50 ± 1 chunks.
    const rate = 512_000
    // On a loaded machine the 20 ms timer runs late, so the rate the origin really sent is measured
    // too: the statistics must match what went through, not the nominal figure.
    let firstWrite = 0
    let lastWrite = 0
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(rate * 4) })
      let sent = 0
      const timer = setInterval(() => {
        if (sent === 0) firstWrite = performance.now()
        res.write(Buffer.alloc(10_240, 'r'))
        if (++sent === 200) {
          lastWrite = performance.now()
          clearInterval(timer)
          res.end()
        }
      }, 20)
      res.on('close', () => clearInterval(timer))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const origin = (server.address() as net.AddressInfo).port
    try {
      const { port } = await run()
      const samples: number[] = []
      // The connection's own rate, measured in main between snapshots like the total.
      const own: number[] = []
      stats.on('snapshot', (s) => {
        samples.push(s.downRate)
        own.push(s.connections[0]?.downRate ?? 0)
      })
      stats.start(1000)
      await exchange(
        port,
        Buffer.from(`GET http://127.0.0.1:${origin}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      )
      // Drop the first and last windows, which the download covers only in part.
      const inner = samples.slice(1, -1).filter((r) => r > 0)
      expect(inner.length).toBeGreaterThanOrEqual(2)
      const mean = inner.reduce((a, b) => a + b, 0) / inner.length
      // 199 intervals between the first and the last of 200 chunks.
      const sentRate = (199 * 10_240) / ((lastWrite - firstWrite) / 1000)
      expect(sentRate / rate).toBeGreaterThan(0.5)
      expect(mean / sentRate).toBeGreaterThan(0.9)
      expect(mean / sentRate).toBeLessThan(1.1)
      // The only connection carries all of it, so its rate is the total's, window by window.
      const ownInner = own.slice(1, -1).filter((r) => r > 0)
      expect(ownInner.length).toBe(inner.length)
      const ownMean = ownInner.reduce((a, b) => a + b, 0) / ownInner.length
      expect(ownMean / sentRate).toBeGreaterThan(0.9)
      expect(ownMean / sentRate).toBeLessThan(1.1)
      // The five-minute chart's points are the snapshots' own rates.
      expect(stats.recentRates(0).map((p) => p.down)).toEqual(samples)
    } finally {
      server.closeAllConnections()
      server.close()
    }
  }, 20_000)

  it('logs a plain-HTTP response the client abandons halfway', async () => {
    // The origin sends its head and 64 KiB of a 1 MiB body, then nothing more.
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(1024 * 1024) })
      res.write(Buffer.alloc(64 * 1024, 'h'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const origin = (server.address() as net.AddressInfo).port
    try {
      const { port } = await run()
      const received = await new Promise<number>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1')
        let bytes = 0
        socket.on('error', reject)
        socket.on('data', (chunk: Buffer) => {
          bytes += chunk.length
          if (bytes < 64 * 1024) return
          socket.destroy()
          resolve(bytes)
        })
        socket.write(`GET http://127.0.0.1:${origin}/ HTTP/1.1\r\nHost: x\r\n\r\n`)
      })
      const [entry] = await until(() => (ring.size === 1 ? ring.list() : null))
      expect([entry!.method, entry!.host, entry!.status, entry!.error]).toEqual([
        'GET',
        '127.0.0.1',
        200,
        null
      ])
      expect(entry!.down).toBeGreaterThanOrEqual(received)
      expect(entry!.down).toBeLessThan(1024 * 1024)
      await until(() => stats.tick().openCount === 0)
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })

  it('closes a connection by id, and all connections of a profile', async () => {
    const { port } = await run(viaProfile(world.upstreams.squid))
    const a = await connectTunnel(port, `127.0.0.1:${world.origin.port}`)
    const b = await connectTunnel(port, `127.0.0.1:${world.origin.port}`)
    expect([a.status, b.status]).toEqual([200, 200])
    const snapshot = stats.tick()
    expect(snapshot.openCount).toBe(2)
    expect(snapshot.connections.map((c) => c.profileId)).toEqual(['via-squid', 'via-squid'])
    const aClosed = new Promise((resolve) => a.socket.once('close', resolve))
    expect(stats.closeConnection(snapshot.connections.at(-1)!.id)).toBe(true)
    await aClosed
    const bClosed = new Promise((resolve) => b.socket.once('close', resolve))
    expect(stats.closeProfile('via-squid')).toBe(1)
    await bClosed
    const closed = (
      await until(() => {
        const next = stats.tick()
        return next.openCount === 0 && next.recentlyClosed.length === 2 && next
      })
    ).recentlyClosed
    // Newest first, each with why and when it closed.
    expect(closed.map((c) => [c.state, c.closeReason])).toEqual([
      ['closed', 'profile connections closed'],
      ['closed', 'closed by user']
    ])
    for (const c of closed) {
      expect(c.closedAt).toBeGreaterThanOrEqual(c.startedAt)
      expect(c.client).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(c.down).toBeGreaterThan(0)
    }
    expect(stats.closeConnection(123456)).toBe(false)
  })

  it('sorts open connections by any column, ties in a stable order, after filtering', async () => {
    const sink = net.createServer((c) => c.resume().on('error', () => {}))
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
    const sinkPort = (sink.address() as net.AddressInfo).port
    const { port } = await run()
    const tunnels = await Promise.all(
      [3000, 1000, 2000].map(() => connectTunnel(port, `127.0.0.1:${sinkPort}`))
    )
    try {
      stats.tick()
      tunnels.forEach((t, i) => t.socket.write(Buffer.alloc([3000, 1000, 2000][i]!)))
      // One tick measures every tunnel's bytes since the last one: its rate is 1000–3000 B per interval.
      await until(() => stats.tick().connections.every((c) => c.up > 1000))
      const clients = tunnels.map((t) => `127.0.0.1:${t.socket.localPort}`)
      const order = (key: 'up' | 'upRate' | 'client', direction: 'ascending' | 'descending', filter = '') =>
        stats.connections(0, 10, filter, { key, direction }).rows.map((r) => clients.indexOf(r.client))
      expect(order('up', 'descending')).toEqual([0, 2, 1])
      expect(order('up', 'ascending')).toEqual([1, 2, 0])
      const byPort = [0, 1, 2].sort((a, b) => tunnels[a]!.socket.localPort! - tunnels[b]!.socket.localPort!)
      expect(order('client', 'ascending')).toEqual(byPort)
      // The filter matches the client column too, and sorting applies to what it left.
      expect(order('up', 'descending', clients[2])).toEqual([2])
      const rates = stats.connections(0, 10, '', { key: 'upRate', direction: 'descending' }).rows
      expect(rates.map((r) => r.upRate)).toEqual([...rates.map((r) => r.upRate)].sort((a, b) => b - a))
      expect(rates.every((r) => r.upRate > 0)).toBe(true)
    } finally {
      for (const t of tunnels) t.socket.destroy()
      sink.close()
    }
  })

  it('keeps the last 50 closed connections, and that the client closed them', async () => {
    const { port } = await run()
    for (let i = 0; i < 55; i++) {
      const t = await connectTunnel(port, `127.0.0.1:${world.origin.port}`)
      const gone = new Promise((resolve) => t.socket.once('close', resolve))
      t.socket.end()
      await gone
    }
    const snapshot = await until(() => {
      const next = stats.tick()
      return next.openCount === 0 && next.recentlyClosed.length === 50 && next
    })
    expect(new Set(snapshot.recentlyClosed.map((c) => c.closeReason))).toEqual(new Set(['closed']))
    expect(new Set(snapshot.recentlyClosed.map((c) => c.id)).size).toBe(50)
  })
})

describe('bounded snapshots', () => {
  let holder: ChildProcess
  let target: number

  beforeAll(async () => {
    // A target that accepts and holds connections, in its own process so that this one has file
    // descriptors for 5,000 clients plus the engine's 10,000 sockets.
    holder = spawn(
      process.execPath,
      [
        '-e',
        "const s=require('net').createServer(c=>c.on('error',()=>{})).listen(0,'127.0.0.1',()=>console.log(s.address().port))"
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] }
    )
    target = await new Promise<number>((resolve) =>
      holder.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString())))
    )
  })
  afterAll(() => {
    holder.kill()
  })

  it('carries at most 500 connections (and the true count) with 5,000 open', async () => {
    const { port } = await run()
    const sockets: net.Socket[] = []
    try {
      for (let batch = 0; batch < 50; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, async () => {
            const t = await connectTunnel(port, `127.0.0.1:${target}`)
            if (t.status !== 200) throw new Error(`tunnel failed: ${t.status} ${t.body}`)
            sockets.push(t.socket)
          })
        )
      }
      const snapshot = stats.tick()
      expect(snapshot.openCount).toBe(5000)
      expect(snapshot.connections).toHaveLength(500)
      const bytes = Buffer.byteLength(JSON.stringify(snapshot))
      // About 410 bytes per connection view (names, counters, rates).
      expect(bytes).toBeLessThan(220_000)
    } finally {
      for (const s of sockets) s.destroy()
    }
  }, 60_000)
})
