import http from 'node:http'
import zlib from 'node:zlib'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'

export type RecordedRequest = {
  method: string
  url: string
  headers: IncomingHttpHeaders
  rawHeaders: string[]
  bodyBytes: number
  /** The first BODY_START characters of the body (latin1), for tests that check what arrived. */
  bodyStart: string
}

const BODY_START = 4096

export type Origin = {
  port: number
  /** http(s)://127.0.0.1:port, without a trailing slash */
  url: string
  requests: RecordedRequest[]
  close(): Promise<void>
}

export type OriginOptions = { tls?: { keyPem: string; certPem: string } }

// Caps keep a typo in a test (e.g. /bytes/1e12) from exhausting memory or running forever.
const MAX_BYTES = 512 * 1024 * 1024
const MAX_SLOW_MS = 60_000
const SLOW_CHUNKS = 20
const PATTERN = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n')

/** n bytes of a repeating pattern, starting at pattern offset `offset` so chunked output stays continuous. */
export function patternBytes(n: number, offset = 0): Buffer {
  const start = offset % PATTERN.length
  const rotated = Buffer.concat([PATTERN.subarray(start), PATTERN.subarray(0, start)])
  return n === 0 ? Buffer.alloc(0) : Buffer.alloc(n, rotated)
}

function parseCount(value: string | null | undefined, max: number): number | undefined {
  if (value === null || value === undefined || !/^\d+$/.test(value)) return undefined
  const n = Number(value)
  return n <= max ? n : undefined
}

function sendText(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text)
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length })
  res.end(body)
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value))
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length })
  res.end(body)
}

/** `n` bytes of text/plain ("Hello " repeated), written with backpressure. */
function streamText(res: ServerResponse, n: number): void {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': n })
  const chunk = Buffer.from('Hello '.repeat(10_923)) // 65,538 bytes
  let sent = 0
  const pump = (): void => {
    while (sent < n) {
      const part = chunk.subarray(0, Math.min(chunk.length, n - sent))
      sent += part.length
      if (sent >= n) return void res.end(part)
      if (!res.write(part)) return void res.once('drain', pump)
    }
  }
  pump()
}

function streamSlow(res: ServerResponse, total: number, ms: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total })
  const chunkSize = Math.ceil(total / SLOW_CHUNKS) || 0
  const interval = ms / SLOW_CHUNKS
  let sent = 0
  let timer: NodeJS.Timeout | undefined
  const stop = (): void => clearTimeout(timer)
  res.once('close', stop)
  // At most SLOW_CHUNKS + 1 ticks; stops early if the client goes away.
  const tick = (): void => {
    if (res.destroyed) return
    const n = Math.min(chunkSize, total - sent)
    if (n > 0) res.write(patternBytes(n, sent))
    sent += n
    if (sent >= total) {
      res.end()
      return
    }
    timer = setTimeout(tick, interval)
  }
  tick()
}

function route(req: IncomingMessage, res: ServerResponse, bodyBytes: number): void {
  const method = req.method ?? 'GET'
  const target = new URL(req.url ?? '/', 'http://origin.invalid')
  const path = target.pathname

  if (method === 'GET' && path === '/gzip-html') {
    const body = zlib.gzipSync('<html><body><h1>Hello, world</h1><p>Hello again</p></body></html>')
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-encoding': 'gzip',
      'content-length': body.length,
      etag: '"v1"'
    })
    res.end(body)
    return
  }
  if (method === 'GET' && path === '/chunked-json') {
    // No Content-Length: Node sends it chunked, in two writes.
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"items":[{"count":1},')
    res.end('{"count":22}],"ok":true}')
    return
  }
  const textMatch = /^\/text\/(\d+)$/.exec(path)
  if (method === 'GET' && textMatch) {
    const n = parseCount(textMatch[1], MAX_BYTES)
    if (n === undefined) return sendText(res, 400, 'bad byte count')
    streamText(res, n)
    return
  }
  if (method === 'GET' && path === '/echo') {
    sendJson(res, 200, { method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders })
    return
  }
  const bytesMatch = /^\/bytes\/(\d+)$/.exec(path)
  if (method === 'GET' && bytesMatch) {
    const n = parseCount(bytesMatch[1], MAX_BYTES)
    if (n === undefined) return sendText(res, 400, 'bad byte count')
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n })
    res.end(patternBytes(n))
    return
  }
  if (method === 'GET' && path === '/slow') {
    const n = parseCount(target.searchParams.get('bytes'), MAX_BYTES)
    const ms = parseCount(target.searchParams.get('ms'), MAX_SLOW_MS)
    if (n === undefined || ms === undefined) return sendText(res, 400, 'bad bytes or ms')
    streamSlow(res, n, ms)
    return
  }
  if (method === 'POST' && path === '/upload') {
    sendJson(res, 200, { received: bodyBytes })
    return
  }
  const statusMatch = /^\/status\/(\d{3})$/.exec(path)
  if (method === 'GET' && statusMatch) {
    const code = Number(statusMatch[1])
    if (code < 200 || code > 599) return sendText(res, 400, 'bad status')
    // 204 and 304 must not carry a body; Node would drop it anyway but then content-length would lie.
    if (code === 204 || code === 304) {
      res.writeHead(code)
      res.end()
      return
    }
    sendText(res, code, `status ${code}`)
    return
  }
  sendText(res, 404, 'not found')
}

export async function startOrigin(opts: OriginOptions = {}): Promise<Origin> {
  const requests: RecordedRequest[] = []

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    // Recorded on arrival (and bodyBytes updated in place) so tests can see requests whose body was cut off.
    const record: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      bodyStart: ''
    }
    requests.push(record)
    req.on('data', (chunk: Buffer) => {
      record.bodyBytes += chunk.length
      if (record.bodyStart.length < BODY_START)
        record.bodyStart += chunk.toString('latin1').slice(0, BODY_START)
    })
    req.on('end', () => route(req, res, record.bodyBytes))
    req.on('error', () => res.destroy())
  }

  const server: http.Server | https.Server = opts.tls
    ? https.createServer({ key: opts.tls.keyPem, cert: opts.tls.certPem }, handler)
    : http.createServer(handler)
  // Tests deliberately abort connections mid-flight; those must not surface as unhandled errors.
  server.on('clientError', (_err, socket) => socket.destroy())
  server.on('tlsClientError', (_err, socket) => socket.destroy())

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const scheme = opts.tls ? 'https' : 'http'

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    return closing
  }

  return { port, url: `${scheme}://127.0.0.1:${port}`, requests, close }
}
