/**
 * Hostile input against the real engine: each case is sent as raw bytes over TCP, its outcome is
 * asserted (status, X-Junction-Error, what the reply says, whether and how fast the connection
 * closes, what the origin actually received), and after every case the engine must still serve a
 * normal proxied GET and hold no more file descriptors than before.
 */
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ProxyEngine } from '../../main/engine/engine.ts'
import { proxyGet } from '../harness/client.ts'
import { serveWithDashboard } from '../harness/headless-process.ts'
import { RawConnection, exchange, type RawOutcome } from '../harness/raw-client.ts'
import { startRecordingOrigin, type RecordingOrigin } from '../harness/recording-origin.ts'
import { startEngine } from '../integration/world.ts'

type Engine = ProxyEngine & { port: number }

let origin: RecordingOrigin
let engine: Engine
let fdsBefore = 0

const fdCount = (): number => fs.readdirSync('/proc/self/fd').length

async function settle(probe: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

/** A normal request through the engine reaches the origin. */
async function expectServing(port: number): Promise<void> {
  const res = await proxyGet(port, `http://${origin.authority}/health`, { timeoutMs: 5000 })
  expect(res.status).toBe(200)
  expect(JSON.parse(res.body.toString())).toMatchObject({ url: '/health' })
}

beforeAll(async () => {
  origin = await startRecordingOrigin()
  engine = await startEngine()
  await expectServing(engine.port)
})
afterAll(async () => {
  await engine?.stop()
  await origin?.close()
})
beforeEach(() => {
  // The previous case's afterEach waited for its sockets to close: this count is the settled one.
  fdsBefore = fdCount()
  origin.clear()
})
afterEach(async () => {
  await expectServing(engine.port)
  // Sockets of the case and of the health check close shortly after; none may stay open.
  const settled = await settle(() => fdCount() <= fdsBefore, 3000)
  expect({ settled, fds: fdCount(), before: fdsBefore }).toMatchObject({ settled: true })
})

/** The single reply to a refused request, with the connection closed within `withinMs`. */
function expectRefused(outcome: RawOutcome, status: number, body: RegExp, withinMs = 1000): void {
  expect(outcome.responses).toHaveLength(1)
  const [reply] = outcome.responses
  expect({ status: reply!.status, error: reply!.headers['x-junction-error'] }).toEqual({
    status,
    error: 'bad-request'
  })
  expect(reply!.body).toMatch(body)
  expect(outcome.closed).toBe(true)
  expect(outcome.elapsedMs).toBeLessThan(withinMs)
}

const get = (target: string, version = 'HTTP/1.1', headers = 'Host: x\r\n'): string =>
  `GET ${target} ${version}\r\n${headers}\r\n`

describe('malformed request lines and headers: 400 with what was wrong, then close', () => {
  const o = (): string => `http://${origin.authority}/echo`
  const cases: [string, () => string | Buffer, number, RegExp][] = [
    ['garbage', () => 'GARBAGE\r\n\r\n', 400, /request method is not valid/],
    ['binary noise', () => Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256)), 400, /method/],
    ['a lower-case method', () => get(o()).replace('GET', 'get'), 400, /method is not valid/],
    ['a method with @', () => get(o()).replace('GET', 'G@T'), 400, /method is not valid/],
    ['a space inside the target', () => get(`${o()} x`), 400, /request line is malformed/],
    ['an unknown version', () => get(o(), 'HTTP/1.2'), 400, /must end with HTTP\/1\.0 or HTTP\/1\.1/],
    ['HTTP/2.0 in HTTP/1 syntax', () => get(o(), 'HTTP/2.0'), 505, /HTTP\/2\.0 is not supported/],
    ['the HTTP/2 preface', () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, /HTTP\/2 with prior knowledge/],
    ['lines ending in a lone LF', () => get(o()).replaceAll('\r\n', '\n'), 400, /CR LF/],
    ['lines ending in a lone CR', () => get(o()).replaceAll('\r\n', '\r'), 400, /CR LF/],
    ['a NUL in the target', () => get(`${o()}\0x`), 400, /characters a URL cannot hold/],
    ['a NUL in a header', () => get(o(), 'HTTP/1.1', 'Host: x\r\nX-A: a\0b\r\n'), 400, /header line/],
    ['a space before a colon', () => get(o(), 'HTTP/1.1', 'Host : x\r\n'), 400, /header line/],
    ['an obs-folded header', () => get(o(), 'HTTP/1.1', 'Host: x\r\nX-A: a\r\n b\r\n'), 400, /folded/],
    ['HTTP/1.1 without Host', () => `GET ${o()} HTTP/1.1\r\n\r\n`, 400, /must carry a Host header/],
    [
      'a version-less request line (HTTP/0.9) with headers',
      () => `GET ${o()}\r\nHost: x\r\n\r\n`,
      400,
      /HTTP\/0\.9/
    ],
    ['HTTP/0.9 in origin form, blank line after', () => 'GET /\r\n\r\n', 400, /HTTP\/0\.9/],
    ['a bare HTTP/0.9 line, nothing after it', () => 'GET /\r\n', 400, /HTTP\/0\.9/],
    ['a bare HTTP/0.9 line in absolute form', () => `GET ${o()}\r\n`, 400, /HTTP\/0\.9/]
  ]
  for (const [name, input, status, body] of cases)
    it(name, async () => {
      expectRefused(await exchange(engine.port, input()), status, body)
      expect(origin.connections).toEqual([])
    })
})

describe('size limits', () => {
  const LIMIT = 64 * 1024
  /** A request whose head is exactly `size` bytes, padded in the query or in one header. */
  const sized = (size: number, where: 'line' | 'header'): string => {
    const url = `http://${origin.authority}/?`
    const build = (pad: string): string =>
      where === 'line' ? get(url + pad) : get(url, 'HTTP/1.1', `Host: x\r\nX-Pad: ${pad}\r\n`)
    return build('a'.repeat(size - build('').length))
  }

  for (const where of ['line', 'header'] as const) {
    it(`passes a ${where} that brings the head just under 64 KiB, whole`, async () => {
      const outcome = await exchange(engine.port, sized(LIMIT - 200, where), { responses: 1 })
      expect(outcome.responses[0]?.status).toBe(200)
      const seen = origin.requests[0]!
      const received = where === 'line' ? seen.url.length : seen.rawHeaders.join('').length
      expect(received).toBeGreaterThan(LIMIT - 300)
    })

    it(`answers 431 to a ${where} that brings the head over 64 KiB, and closes`, async () => {
      expectRefused(await exchange(engine.port, sized(LIMIT + 100, where)), 431, /over 64 KiB/)
      expect(origin.connections).toEqual([])
    })
  }

  it('answers 431 to a 1 MiB request line without reading it all, and closes', async () => {
    const outcome = await exchange(engine.port, get(`http://${origin.authority}/?${'a'.repeat(1 << 20)}`))
    expectRefused(outcome, 431, /too large/)
  })

  it('passes 990 headers and answers 431 to 2,000 or 10,000 (Node counts at most 1,000)', async () => {
    const headers = (n: number): string =>
      `Host: x\r\n${Array.from({ length: n }, (_, i) => `X-H${i}: ${i}\r\n`).join('')}`
    const many = await exchange(engine.port, get(`http://${origin.authority}/`, 'HTTP/1.1', headers(990)), {
      responses: 1
    })
    expect(many.responses[0]?.status).toBe(200)
    expect(
      origin.requests[0]!.rawHeaders.filter((name, i) => i % 2 === 0 && /^X-H\d+$/.test(name))
    ).toHaveLength(990)
    for (const n of [2000, 10_000]) {
      const outcome = await exchange(engine.port, get(`http://${origin.authority}/`, 'HTTP/1.1', headers(n)))
      expectRefused(outcome, 431, /more than 1000 header fields/)
    }
  })
})

describe('request smuggling: ambiguous framing is refused, never forwarded', () => {
  const post = (headers: string, body: string): string =>
    `POST http://${origin.authority}/upload HTTP/1.1\r\nHost: x\r\n${headers}\r\n${body}`
  const smuggled = `GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`
  const AMBIGUOUS = /body length is ambiguous/
  const MALFORMED = /header line is malformed/
  const cases: [string, () => string, RegExp][] = [
    [
      'CL.TE',
      () => post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${smuggled}`),
      AMBIGUOUS
    ],
    [
      'TE.CL',
      () => post('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', `5\r\nhello\r\n0\r\n\r\n${smuggled}`),
      AMBIGUOUS
    ],
    [
      'two differing Content-Lengths',
      () => post('Content-Length: 4\r\nContent-Length: 40\r\n', `abcd${smuggled}`),
      AMBIGUOUS
    ],
    [
      'two equal Content-Lengths',
      () => post('Content-Length: 4\r\nContent-Length: 4\r\n', `abcd${smuggled}`),
      AMBIGUOUS
    ],
    ['a Content-Length list', () => post('Content-Length: 4, 4\r\n', `abcd${smuggled}`), AMBIGUOUS],
    ['a signed Content-Length', () => post('Content-Length: +4\r\n', `abcd${smuggled}`), AMBIGUOUS],
    [
      'Transfer-Encoding: chunked, identity',
      () => post('Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n'),
      AMBIGUOUS
    ],
    [
      'Transfer-Encoding twice',
      () => post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n', ''),
      AMBIGUOUS
    ],
    [
      'Transfer-Encoding with a space before the colon',
      () => post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'),
      MALFORMED
    ],
    [
      'Transfer-Encoding with a vertical tab',
      () => post('Transfer-Encoding:\x0bchunked\r\n', '0\r\n\r\n'),
      MALFORMED
    ],
    [
      'Transfer-Encoding folded onto a second line',
      () => post('Transfer-Encoding:\r\n chunked\r\n', '0\r\n\r\n'),
      MALFORMED
    ]
  ]
  for (const [name, input, why] of cases)
    it(name, async () => {
      const outcome = await exchange(engine.port, input())
      expectRefused(outcome, 400, why)
      // Refused before routing: the origin never saw a byte, so neither request can have reached it.
      expect(origin.connections).toEqual([])
    })

  it('Transfer-Encoding: xchunked is refused (501) before anything is forwarded', async () => {
    const outcome = await exchange(
      engine.port,
      post('Transfer-Encoding: xchunked\r\n', `0\r\n\r\n${smuggled}`)
    )
    expect(outcome.responses.map((r) => [r.status, r.headers['x-junction-error']])).toEqual([
      [501, 'bad-request']
    ])
    expect(outcome.closed).toBe(true)
    expect(origin.connections).toEqual([])
  })

  it('a chunk size that overflows: 400, and the origin never gets a complete request', async () => {
    const outcome = await exchange(
      engine.port,
      post('Transfer-Encoding: chunked\r\n', 'fffffffffffffffffff\r\nx\r\n')
    )
    expectRefused(outcome, 400, /chunk size/)
    // The head was valid, so forwarding may have begun; the body never completes there.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(origin.requests.filter((r) => r.complete)).toEqual([])
  })

  it('refuses a transfer coding other than chunked (501), as it cannot forward it faithfully', async () => {
    const outcome = await exchange(
      engine.port,
      post('Transfer-Encoding: gzip, chunked\r\n', '5\r\nhello\r\n0\r\n\r\n')
    )
    expect(outcome.responses.map((r) => [r.status, r.headers['x-junction-error']])).toEqual([
      [501, 'bad-request']
    ])
    expect(outcome.responses[0]!.body).toMatch(/Transfer-Encoding "gzip, chunked"/)
    expect(outcome.closed).toBe(true)
    expect(origin.connections).toEqual([])
  })

  it('takes Transfer-Encoding: chunked in any letter case (the control case)', async () => {
    const outcome = await exchange(
      engine.port,
      post('Transfer-Encoding: ChUnKeD\r\n', '5\r\nhello\r\n0\r\n\r\n'),
      {
        responses: 1
      }
    )
    expect(outcome.responses[0]?.status).toBe(200)
    expect(origin.requests.map((r) => [r.url, r.bodyBytes, r.complete])).toEqual([['/upload', 5, true]])
  })

  it('forwards a chunked body with its framing intact: the origin sees one request, not two', async () => {
    const body = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`
    const outcome = await exchange(engine.port, post('Transfer-Encoding: chunked\r\n', body), {
      responses: 1
    })
    expect(outcome.responses[0]?.status).toBe(200)
    expect(JSON.parse(outcome.responses[0]!.body)).toMatchObject({ bodyBytes: smuggled.length })
    // The origin parsed one request whose body holds the would-be second one, framed in chunks.
    expect(origin.requests.map((r) => [r.url, r.bodyBytes])).toEqual([['/upload', smuggled.length]])
    expect(origin.connections[0]).toMatch(/^POST \/upload HTTP\/1\.1\r\n[^]*Transfer-Encoding: chunked\r\n/)
  })
})

describe('CONNECT targets', () => {
  const connect = (target: string): string => `CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`
  const cases: [string, () => string, RegExp][] = [
    ['no port', () => '127.0.0.1', /no port/],
    ['port 0', () => '127.0.0.1:0', /port 0 is outside 1-65535/],
    ['port 65536', () => '127.0.0.1:65536', /port 65536 is outside/],
    ['credentials', () => `user:pw@${origin.authority}`, /credentials/],
    ['a path', () => `${origin.authority}/x`, /path/],
    ['a URL', () => `http://${origin.authority}/`, /scheme or path/],
    ['IPv6 without brackets', () => '::1:443', /in brackets/],
    ['a bracketed IPv6 without a port', () => '[::1]', /no port/],
    ['only a port', () => `:${origin.port}`, /host name is not valid/],
    ['an empty target', () => '', /no HTTP version|not host:port/]
  ]
  for (const [name, target, why] of cases)
    it(`refuses ${name} with 400`, async () => {
      expectRefused(await exchange(engine.port, connect(target())), 400, why)
      expect(origin.connections).toEqual([])
    })

  it('opens a tunnel to a well-formed target (the control case)', async () => {
    const tunnel = await RawConnection.open(engine.port)
    try {
      tunnel.write(connect(origin.authority))
      expect(await tunnel.waitForResponses(1, 3000)).toBe(true)
      expect(tunnel.responses[0]!.status).toBe(200)
      tunnel.write('GET /through HTTP/1.1\r\nHost: x\r\n\r\n')
      expect(await tunnel.waitForResponses(2, 3000)).toBe(true)
      expect(origin.requests.map((r) => r.url)).toEqual(['/through'])
    } finally {
      tunnel.destroy()
    }
  })
})

describe('requests for Junction itself', () => {
  it('answers 508 to a CONNECT to its own address and closes', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const outcome = await exchange(
        engine.port,
        `CONNECT ${host}:${engine.port} HTTP/1.1\r\nHost: x\r\n\r\n`
      )
      expect(outcome.responses.map((r) => [r.status, r.headers['x-junction-error']])).toEqual([
        [508, 'loop-detected']
      ])
      expect(outcome.closed).toBe(true)
    }
  })

  it('answers 508 to an absolute-form GET for its own address, keeping the connection', async () => {
    const connection = await RawConnection.open(engine.port)
    try {
      connection.write(get(`http://127.0.0.1:${engine.port}/`))
      connection.write(get(`http://localhost:${engine.port}/x`))
      expect(await connection.waitForResponses(2, 3000)).toBe(true)
      expect(connection.responses.map((r) => [r.status, r.headers['x-junction-error']])).toEqual([
        [508, 'loop-detected'],
        [508, 'loop-detected']
      ])
      expect(connection.responses[0]!.body).toMatch(/would reach this Junction again/)
      expect(connection.closed).toBe(false)
    } finally {
      connection.destroy()
    }
  })

  it('answers an origin-form request that is not /proxy.pac itself, never following its Host', async () => {
    for (const host of [origin.authority, `127.0.0.1:${engine.port}`]) {
      const outcome = await exchange(engine.port, `GET /page HTTP/1.1\r\nHost: ${host}\r\n\r\n`, {
        responses: 1
      })
      expect(outcome.responses.map((r) => [r.status, r.headers['x-junction-error']])).toEqual([
        [400, 'not-a-proxy-request']
      ])
      expect(outcome.responses[0]!.body).toMatch(/Configure it as an HTTP\/HTTPS proxy/)
    }
    expect(origin.connections).toEqual([])
  })
})

describe('which authority wins', () => {
  let other: RecordingOrigin
  beforeAll(async () => {
    other = await startRecordingOrigin()
  })
  afterAll(async () => {
    await other?.close()
  })

  it('serves an HTTP/1.0 request without Host from its absolute URI', async () => {
    const outcome = await exchange(engine.port, `GET http://${origin.authority}/ten HTTP/1.0\r\n\r\n`)
    expect(outcome.responses.map((r) => r.status)).toEqual([200])
    expect(outcome.closed).toBe(true)
    expect(origin.requests.map((r) => [r.url, host(r.rawHeaders)])).toEqual([['/ten', [origin.authority]]])
  })

  it('goes where the absolute URI says when Host names another server (RFC 9112 §3.2.2)', async () => {
    const outcome = await exchange(
      engine.port,
      get(`http://${origin.authority}/uri`, 'HTTP/1.1', `Host: ${other.authority}\r\nHost: y\r\n`),
      { responses: 1 }
    )
    expect(outcome.responses[0]?.status).toBe(200)
    // One Host, the URI's: the origin cannot be told a different story than the route took.
    expect(origin.requests.map((r) => [r.url, host(r.rawHeaders)])).toEqual([['/uri', [origin.authority]]])
    expect(other.connections).toEqual([])
  })
})

function host(rawHeaders: string[]): string[] {
  return rawHeaders.filter((_, i) => i % 2 === 1 && rawHeaders[i - 1]!.toLowerCase() === 'host')
}

describe('other protocols, and garbage behind a good request', () => {
  it('answers a real TLS ClientHello with a 400 that says so, and closes', async () => {
    const hello = await captureClientHello()
    expect(hello[0]).toBe(0x16)
    expectRefused(await exchange(engine.port, hello), 400, /TLS handshake arrived/)
  })

  it('answers 400 to a pipelined request after a good one without garbling the first answer', async () => {
    const outcome = await exchange(engine.port, `${get(`http://${origin.authority}/first`)}GARBAGE\r\n\r\n`, {
      responses: 2
    })
    expect(outcome.responses.map((r) => r.status)).toEqual([200, 400])
    expect(JSON.parse(outcome.responses[0]!.body)).toMatchObject({ url: '/first' })
    expect(outcome.responses[1]!.body).toMatch(/request method is not valid/)
    expect(outcome.closed).toBe(true)
  })
})

/** The first flight of a real TLS client (Node's), caught by a TCP server that never answers it. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const first = new Promise<Buffer>((resolve) =>
      server.once('connection', (socket) => socket.once('data', (chunk: Buffer) => resolve(chunk)))
    )
    const client = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port })
    client.on('error', () => {})
    const hello = await first
    client.destroy()
    return hello
  } finally {
    server.close()
  }
}

describe('bodies and pipelines', () => {
  for (const ending of ['closes (FIN)', 'resets (RST)'] as const)
    it(`a body cut short, then the client ${ending}: the origin sees the abort, the engine goes on`, async () => {
      const connection = await RawConnection.open(engine.port)
      connection.write(
        `POST http://${origin.authority}/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789`
      )
      expect(await settle(() => origin.requests[0]?.bodyBytes === 10, 3000)).toBe(true)
      if (ending === 'resets (RST)') connection.socket.resetAndDestroy()
      else connection.destroy()
      expect(await settle(() => origin.requests[0]!.aborted, 3000)).toBe(true)
      expect(origin.requests[0]).toMatchObject({ bodyBytes: 10, complete: false })
    })

  it('answers 1,000 pipelined requests on one connection, all in order', async () => {
    const count = 1000
    const requests = Array.from({ length: count }, (_, i) => get(`http://${origin.authority}/p/${i}`)).join(
      ''
    )
    const started = Date.now()
    const outcome = await exchange(engine.port, requests, { responses: count, timeoutMs: 60_000 })
    const elapsed = Date.now() - started
    expect(outcome.responses).toHaveLength(count)
    expect(outcome.responses.every((r, i) => JSON.parse(r.body).url === `/p/${i}`)).toBe(true)
    expect(outcome.closed).toBe(false)
    console.info(`1,000 pipelined requests answered in ${elapsed} ms`)
  }, 90_000)
})

describe('many hostile connections at once', () => {
  it('answers 300 concurrent connections of mixed bad input, then holds none of them', async () => {
    const inputs = [
      'GARBAGE\r\n\r\n',
      `CONNECT 127.0.0.1:0 HTTP/1.1\r\nHost: x\r\n\r\n`,
      `POST http://${origin.authority}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`,
      `GET http://127.0.0.1:${engine.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`
    ]
    const outcomes = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        exchange(engine.port, inputs[i % inputs.length]!, { timeoutMs: 10_000 })
      )
    )
    expect(outcomes.every((o) => o.closed && o.responses.length === 1)).toBe(true)
    expect(new Set(outcomes.map((o) => o.responses[0]!.status))).toEqual(new Set([400, 508]))
    expect(origin.connections).toEqual([])
  }, 30_000)
})

describe('slow clients (request head deadline 2 s)', () => {
  let slow: Engine
  beforeAll(async () => {
    slow = await startEngine({ requestHeadersMs: 2000 })
  })
  afterAll(async () => {
    await slow?.stop()
  })

  it('cuts off headers trickled one byte per second, and serves others meanwhile', async () => {
    const loris = await RawConnection.open(slow.port)
    try {
      const request = get(`http://${origin.authority}/loris`, 'HTTP/1.1', 'Host: x\r\nX-Slow: 1\r\n')
      const trickled = loris.trickle(request, 1000)
      await expectServing(slow.port)
      const written = await trickled
      // Deadline 2 s, checked every 0.5 s: closed after 2–2.5 s, well before the 60-odd bytes went out.
      expect(loris.closed).toBe(true)
      expect(loris.elapsedMs).toBeGreaterThanOrEqual(1900)
      expect(loris.elapsedMs).toBeLessThan(5000)
      expect(written).toBeLessThan(10)
      expect(origin.connections).toHaveLength(1) // the health check's, not the loris's
    } finally {
      loris.destroy()
    }
  }, 15_000)

  it('closes a connection sending blank lines only, or nothing, at the same deadline', async () => {
    const outcomes = await Promise.all(
      ['\r\n\r\n\r\n', ''].map((input) => exchange(slow.port, input, { timeoutMs: 6000 }))
    )
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ closed: true, responses: [] })
      expect(outcome.elapsedMs).toBeGreaterThanOrEqual(1900)
      expect(outcome.elapsedMs).toBeLessThan(5000)
    }
  })

  it('lets a slow but steady client through when its head arrives within the deadline', async () => {
    const connection = await RawConnection.open(slow.port)
    try {
      const request = get(`http://${origin.authority}/steady`)
      for (const part of [request.slice(0, 10), request.slice(10, 30), request.slice(30)]) {
        connection.write(part)
        await new Promise((resolve) => setTimeout(resolve, 400))
      }
      expect(await connection.waitForResponses(1, 3000)).toBe(true)
      expect(connection.responses[0]!.status).toBe(200)
    } finally {
      connection.destroy()
    }
  })
})

describe('the headless process (npm run serve), with its real settings', () => {
  it('answers a mixed hostile corpus, 10 of each at once, and stays up, serving, with no FD left', async () => {
    const dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'junction-corpus-'))
    const { running, proxyPort } = await serveWithDashboard(dataDir)
    try {
      const pid = running.child.pid!
      const fds = (): number => fs.readdirSync(`/proc/${pid}/fd`).length
      await expectServing(proxyPort)
      const baseline = fds()
      const o = origin.authority
      const corpus = [
        'GARBAGE\r\n\r\n',
        'GET /\r\n',
        await captureClientHello(),
        `GET http://${o}/ HTTP/1.1\nHost: x\n\n`,
        `POST http://${o}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        `POST http://${o}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd`,
        `CONNECT user:pw@${o} HTTP/1.1\r\nHost: x\r\n\r\n`,
        `CONNECT 127.0.0.1:0 HTTP/1.1\r\nHost: x\r\n\r\n`,
        `CONNECT 127.0.0.1:${proxyPort} HTTP/1.1\r\nHost: x\r\n\r\n`,
        get(`http://${o}/?${'a'.repeat(70_000)}`),
        get(`http://${o}/`, 'HTTP/1.1', `Host: x\r\n${'X-A: 1\r\n'.repeat(2000)}`),
        get(`http://${o}/`, 'HTTP/2.0')
      ]
      const outcomes = await Promise.all(
        corpus.flatMap((input) =>
          Array.from({ length: 10 }, () => exchange(proxyPort, input, { timeoutMs: 5000 }))
        )
      )
      for (const [i, outcome] of outcomes.entries()) {
        const reply = outcome.responses[0]
        expect({ i, closed: outcome.closed, error: reply?.headers['x-junction-error'] }).toMatchObject({
          closed: true,
          error: expect.stringMatching(/^(bad-request|loop-detected)$/)
        })
        expect(outcome.elapsedMs).toBeLessThan(3000)
      }
      expect(origin.connections).toHaveLength(1) // the first health check's
      expect(running.child.exitCode).toBeNull()
      await expectServing(proxyPort)
      expect(await settle(() => fds() <= baseline, 5000)).toBe(true)
    } finally {
      running.child.kill('SIGTERM')
      await running.exited
      await fs.promises.rm(dataDir, { recursive: true, force: true })
    }
  }, 60_000)
})
