/**
 * CONNECT heads read without Node's HTTP server (connect-head.ts) read as Node's parser reads them:
 * every head the fast path takes is sent to a real Node HTTP server, which must announce the same
 * CONNECT (method, target, version, headers, the bytes after the head). What the fast path leaves to
 * Node is Node's answer already, which test/reliability/hostile-corpus.test.ts pins through the engine.
 */
import http from 'node:http'
import net from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConnectHead } from '../../main/engine/connect-head.ts'
import { rawRequest } from '../harness/client.ts'
import { startEngine } from '../integration/world.ts'

/** What Node's server made of one connection's bytes. */
type NodeReading =
  | {
      kind: 'connect'
      method: string | undefined
      url: string | undefined
      httpVersion: string
      httpVersionMajor: number
      headers: Record<string, unknown>
      rest: string
    }
  | { kind: 'refused' | 'other' }

let server: http.Server
let port: number
/** Each connection's reading, by the client's local port. */
const readings = new Map<number, (reading: NodeReading) => void>()

function report(socket: net.Socket, reading: NodeReading): void {
  readings.get(socket.remotePort!)?.(reading)
  socket.destroy()
}

beforeAll(async () => {
  // The engine's parser settings that bear on a CONNECT head (engine.ts serverOptions).
  server = http.createServer({ maxHeaderSize: 64 * 1024, requireHostHeader: false })
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
    report(socket, {
      kind: 'connect',
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      httpVersionMajor: req.httpVersionMajor,
      headers: { ...req.headers },
      rest: head.toString('latin1')
    })
  )
  server.on('request', (req: http.IncomingMessage) => report(req.socket, { kind: 'other' }))
  server.on('clientError', (_error, socket: net.Socket) => report(socket, { kind: 'refused' }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as net.AddressInfo).port
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

/** Sends `bytes` in one write and returns what Node's server made of them ('other' if it waits). */
function nodeReads(bytes: Buffer): Promise<NodeReading> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const timer = setTimeout(() => done({ kind: 'other' }), 1000)
    const done = (reading: NodeReading): void => {
      clearTimeout(timer)
      readings.delete(socket.localPort!)
      socket.destroy()
      resolve(reading)
    }
    socket.on('error', reject)
    socket.on('connect', () => {
      readings.set(socket.localPort!, done)
      socket.write(bytes)
    })
  })
}

/** Mostly `plain`, sometimes one of `odd`: most heads reach the fast path, the rest probe its edges. */
function mostly<T>(plain: fc.Arbitrary<T>, odd: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 6, arbitrary: plain }, { weight: 1, arbitrary: odd })
}

const token = mostly(
  fc.constantFrom('Host', 'host', 'Proxy-Authorization', 'Via', 'User-Agent', 'X-Trace_Id', "x!#$%&'*+.^`|~"),
  fc.constantFrom(
    'Content-Length',
    'Transfer-Encoding',
    '__proto__',
    'constructor',
    'Bad Name',
    'Bad"Name',
    ''
  )
)
const valueChar = mostly(
  fc.constantFrom('a', 'Z', '0', ':', ' ', '\t', '"', '~', '/'),
  fc.constantFrom('\x7f', '\x01', '\xe9', '\r', '\n')
)
const value = fc.oneof(
  fc.constantFrom('127.0.0.1:443', 'Basic dTpw', '1.1 other', '0', 'chunked', ''),
  fc.array(valueChar, { maxLength: 12 }).map((chars) => chars.join(''))
)
const field = fc.tuple(
  token,
  mostly(fc.constantFrom(':', ': ', ':\t', ':  '), fc.constantFrom(' :', '')),
  value,
  fc.constantFrom('', ' ', '\t ')
)
const line = mostly(
  field.map(([name, colon, v, trailing]) => `${name}${colon}${v}${trailing}`),
  fc.constantFrom(' folded', '\tfolded', 'no colon')
)
const target = mostly(
  fc.constantFrom(
    '127.0.0.1:443',
    'example.test:8443',
    '[::1]:443',
    'UPPER.test:80',
    'a_b.test:1',
    '%41.test:1'
  ),
  fc.oneof(
    fc.constantFrom('host', 'h:0', 'user:pw@h:1', 'h:1/path', 'h:99999', 'h:1?q', ''),
    fc
      .array(
        fc.constantFrom('a', '9', '.', ':', '-', '[', ']', '%', '_', '~', '@', '/', '?', '#', '\xe9', ' '),
        {
          minLength: 1,
          maxLength: 14
        }
      )
      .map((chars) => chars.join(''))
  )
)
const head = fc
  .record({
    method: mostly(fc.constant('CONNECT'), fc.constantFrom('connect', 'CONNEC', 'GET', 'CONNECT ')),
    target,
    version: mostly(
      fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
      fc.constantFrom('HTTP/1.2', 'HTTP/2.0', 'http/1.1', 'HTTP/1.1 ', 'HTTP/1.10', '')
    ),
    lines: fc.array(line, { maxLength: 5 }),
    eol: mostly(fc.constant('\r\n'), fc.constantFrom('\n', '\r')),
    end: mostly(fc.constant('\r\n\r\n'), fc.constantFrom('\r\n', '\n\n', '\r\n\n')),
    rest: fc.constantFrom('', '', '\x16\x03\x01\x00\x05hello', 'GET / HTTP/1.1\r\n\r\n')
  })
  .map(({ method, target, version, lines, eol, end, rest }) =>
    Buffer.from(`${[`${method} ${target} ${version}`, ...lines].join(eol)}${end}${rest}`, 'latin1')
  )

describe('CONNECT heads read without the HTTP server', () => {
  it('are read exactly as Node reads them, whenever they are read at all', async () => {
    let taken = 0
    const runs = 2000
    await fc.assert(
      fc.asyncProperty(head, async (bytes) => {
        const ours = parseConnectHead(bytes, null as never)
        if (!ours) return
        taken++
        const node = await nodeReads(bytes)
        expect(node).toEqual({
          kind: 'connect',
          method: ours.request.method,
          url: ours.request.url,
          httpVersion: ours.request.httpVersion,
          httpVersionMajor: ours.request.httpVersionMajor,
          headers: { ...ours.request.headers },
          rest: ours.rest.toString('latin1')
        })
      }),
      { numRuns: runs }
    )
    // The generator must reach the fast path often enough for this to say something.
    expect(taken).toBeGreaterThan(runs / 10)
  }, 120_000)

  it('leave heads in any other form to Node', () => {
    const parse = (text: string): unknown => parseConnectHead(Buffer.from(text, 'latin1'), null as never)
    const plain = 'CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n'
    expect(parse(`${plain}\r\n`)).not.toBeNull()
    // Not whole in the first read.
    expect(parse(plain)).toBeNull()
    // A header Node joins or keeps the first of; one that frames a body; a folded line; obs-text.
    expect(parse(`${plain}host: b.test:443\r\n\r\n`)).toBeNull()
    expect(parse(`${plain}Content-Length: 0\r\n\r\n`)).toBeNull()
    expect(parse(`${plain}Via: 1.1 a\r\n  b\r\n\r\n`)).toBeNull()
    expect(parse(`${plain}User-Agent: caf\xe9\r\n\r\n`)).toBeNull()
    // A name every object has already.
    expect(parse(`${plain}__proto__: x\r\n\r\n`)).toBeNull()
    // Longer than the fast path reads (8 KiB).
    expect(parse(`${plain}Cookie: ${'c'.repeat(9000)}\r\n\r\n`)).toBeNull()
  })

  it('carry the bytes sent with the head into the tunnel, as do heads left to Node', async () => {
    // The target echoes the first bytes it gets, then closes.
    const target = net.createServer((socket) => socket.once('data', (chunk) => socket.end(chunk)))
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
    const authority = `127.0.0.1:${(target.address() as net.AddressInfo).port}`
    const engine = await startEngine()
    try {
      // The first head is read by the fast path; the second (a repeated header) by Node's parser.
      for (const extra of ['', 'Via: 1.1 a\r\nvia: 1.1 b\r\n']) {
        const answer = await rawRequest(engine.port, `CONNECT ${authority} HTTP/1.1\r\n${extra}\r\nhello`)
        expect(answer).toMatch(/^HTTP\/1\.1 200 [^\r]*\r\n(?:[^\r]+\r\n)*\r\nhello$/)
      }
    } finally {
      await engine.stop()
      await new Promise((resolve) => target.close(resolve))
    }
  })
})
