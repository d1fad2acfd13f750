import http from 'node:http'
import net from 'node:net'
import tls from 'node:tls'
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'

const PROXY_HOST = '127.0.0.1'
const MAX_HEAD_BYTES = 64 * 1024

export type ProxyResponse = { status: number; statusText: string; headers: IncomingHttpHeaders; body: Buffer }

export type ProxyGetOptions = {
  method?: string
  headers?: Record<string, string>
  body?: Buffer | string
  /** Flat [name, value, ...] list sent verbatim instead of `headers` (order and case preserved, no Host added). */
  rawHeaders?: string[]
  timeoutMs?: number
}

export type TunnelResponse = {
  /** 0 when the proxy closed or reset the connection before sending a complete response head. */
  status: number
  /** The reason phrase, or 'closed' / 'reset' when status is 0. */
  statusText: string
  /** Lower-cased names; repeated headers are joined with ', '. */
  headers: Record<string, string>
  /** For non-200 answers, the response body (read until Content-Length, close, or the body timeout). */
  body: string
  /**
   * For status 200: connected to the target, not paused, with any bytes that followed the head put back.
   * A no-op 'error' listener is attached so a proxy dropping the tunnel cannot crash the test process;
   * watch 'close' (or add your own 'error' listener) to observe that. Destroyed for any other status.
   */
  socket: net.Socket
}

export type ConnectTunnelOptions = {
  headers?: Record<string, string>
  /** How long to wait for the response head. */
  timeoutMs?: number
  /** How long to keep reading a non-200 body that has no Content-Length. */
  bodyTimeoutMs?: number
}

export type HttpsViaProxyOptions = {
  servername?: string
  /** Extra headers for the CONNECT request, e.g. Proxy-Authorization for an authenticating upstream. */
  proxyHeaders?: Record<string, string>
  /** Extra headers for the GET sent through the tunnel. */
  headers?: Record<string, string>
  timeoutMs?: number
}

export type HttpsViaProxyResponse = { status: number; headers: IncomingHttpHeaders; body: Buffer }

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
}

/** 'host:port', bracketing IPv6 literals. */
export function hostPort(hostname: string, port: number): string {
  return net.isIPv6(hostname) ? `[${hostname}]:${port}` : `${hostname}:${port}`
}

function onTimeout(ms: number, fn: () => void): NodeJS.Timeout {
  const timer = setTimeout(fn, ms)
  timer.unref()
  return timer
}

/** Sends an absolute-form request (`GET http://host:port/path HTTP/1.1`) to an HTTP proxy on 127.0.0.1. */
export function proxyGet(proxyPort: number, url: string, opts: ProxyGetOptions = {}): Promise<ProxyResponse> {
  const target = new URL(url)
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body)
  let headers: OutgoingHttpHeaders | string[]
  if (opts.rawHeaders) {
    headers = opts.rawHeaders
  } else {
    const given = opts.headers ?? {}
    const lower = new Set(Object.keys(given).map((k) => k.toLowerCase()))
    // Node would otherwise derive Host from the proxy's address, which no real client does.
    const extra: OutgoingHttpHeaders = lower.has('host') ? {} : { host: target.host }
    if (body && !lower.has('content-length') && !lower.has('transfer-encoding')) {
      extra['content-length'] = body.length
    }
    headers = { ...extra, ...given }
  }
  const timeoutMs = opts.timeoutMs ?? 15_000

  return new Promise<ProxyResponse>((resolve, reject) => {
    const req = http.request({
      host: PROXY_HOST,
      port: proxyPort,
      method: opts.method ?? 'GET',
      path: url,
      headers,
      agent: false
    })
    const timer = onTimeout(timeoutMs, () =>
      req.destroy(new Error(`proxyGet ${url} via :${proxyPort} timed out after ${timeoutMs} ms`))
    )
    req.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    req.once('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      res.once('end', () => {
        clearTimeout(timer)
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          headers: res.headers,
          body: Buffer.concat(chunks)
        })
      })
    })
    req.end(body)
  })
}

type Head = { status: number; statusText: string; headers: Record<string, string> }

function parseHead(text: string): Head {
  const lines = text.split('\r\n')
  const statusLine = /^HTTP\/\d(?:\.\d)? (\d{3})(?: (.*))?$/.exec(lines[0] ?? '')
  if (!statusLine) throw new Error(`not an HTTP response: ${JSON.stringify((lines[0] ?? '').slice(0, 200))}`)
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  return { status: Number(statusLine[1]), statusText: statusLine[2] ?? '', headers }
}

type HeadResult =
  { kind: 'head'; head: Head; rest: Buffer } | { kind: 'gone'; how: 'closed' | 'reset'; partial: Buffer }

function isResetError(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ECONNABORTED'
}

// Reads through 'readable' rather than 'data' so that, once the listener is removed, the socket returns to
// its initial non-flowing state and a caller's later 'data' listener (or TLS) still sees every byte.
function readHead(socket: net.Socket, timeoutMs: number, what: string): Promise<HeadResult> {
  return new Promise<HeadResult>((resolve, reject) => {
    let buffered = Buffer.alloc(0)
    let connected = false
    let reset = false
    const timer = onTimeout(timeoutMs, () =>
      finish(() => reject(new Error(`${what}: no response head within ${timeoutMs} ms`)))
    )
    const cleanup = (): void => {
      clearTimeout(timer)
      socket.off('readable', onReadable)
      socket.off('connect', onConnect)
      socket.off('error', onError)
      socket.off('end', onGone)
      socket.off('close', onGone)
    }
    let settled = false
    const finish = (fn: () => void): void => {
      if (settled) return
      settled = true
      cleanup()
      fn()
    }
    const onConnect = (): void => {
      connected = true
    }
    const onReadable = (): void => {
      // Each read() drains what is buffered; the loop ends when the buffer is empty.
      for (
        let chunk = socket.read() as Buffer | null;
        chunk !== null;
        chunk = socket.read() as Buffer | null
      ) {
        buffered = Buffer.concat([buffered, chunk])
        const end = buffered.indexOf('\r\n\r\n')
        if (end >= 0) {
          const headText = buffered.subarray(0, end).toString('latin1')
          const rest = buffered.subarray(end + 4)
          finish(() => {
            try {
              resolve({ kind: 'head', head: parseHead(headText), rest })
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)))
            }
          })
          return
        }
        if (buffered.length > MAX_HEAD_BYTES) {
          finish(() => reject(new Error(`${what}: response head exceeds ${MAX_HEAD_BYTES} bytes`)))
          return
        }
      }
    }
    const onError = (err: NodeJS.ErrnoException): void => {
      if (!connected && !isResetError(err)) {
        finish(() => reject(new Error(`${what}: ${err.message}`)))
        return
      }
      reset ||= isResetError(err)
      // 'close' follows and settles.
    }
    const onGone = (): void => {
      // 'error' always precedes 'close', so by now reset tells a reset apart from an orderly close.
      finish(() => resolve({ kind: 'gone', how: reset ? 'reset' : 'closed', partial: buffered }))
    }
    if (!socket.connecting) connected = true
    socket.on('connect', onConnect)
    socket.on('readable', onReadable)
    socket.on('error', onError)
    socket.on('end', onGone)
    socket.on('close', onGone)
  })
}

function decodeChunked(data: Buffer): Buffer {
  const parts: Buffer[] = []
  let pos = 0
  // Each iteration consumes one chunk, so the loop ends at the terminator or the end of the data.
  while (pos < data.length) {
    const lineEnd = data.indexOf('\r\n', pos)
    if (lineEnd < 0) break
    const size = parseInt(data.subarray(pos, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size) || size <= 0) break
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
    pos = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

function readBody(socket: net.Socket, initial: Buffer, head: Head, timeoutMs: number): Promise<Buffer> {
  const lengthHeader = head.headers['content-length']
  const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined
  const chunked = /chunked/i.test(head.headers['transfer-encoding'] ?? '')
  return new Promise<Buffer>((resolve) => {
    let data = initial
    const complete = (): boolean =>
      (length !== undefined && data.length >= length) || (chunked && data.includes('\r\n0\r\n\r\n'))
    const finish = (): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', finish)
      socket.destroy()
      const raw = length !== undefined ? data.subarray(0, length) : data
      resolve(chunked ? decodeChunked(raw) : raw)
    }
    const onData = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk])
      if (complete()) finish()
    }
    const timer = onTimeout(timeoutMs, finish)
    socket.on('error', () => {})
    if (complete() || length === 0 || socket.destroyed) {
      finish()
      return
    }
    socket.on('data', onData)
    socket.on('close', finish)
  })
}

/**
 * Opens a raw `CONNECT target HTTP/1.1` tunnel through a proxy on 127.0.0.1. Resolves (status 0) rather than
 * hanging when the proxy closes or resets the connection; rejects only if the proxy cannot be reached or
 * sends no head in time.
 */
export async function connectTunnel(
  proxyPort: number,
  target: string,
  opts: ConnectTunnelOptions = {}
): Promise<TunnelResponse> {
  const socket = net.connect({ host: PROXY_HOST, port: proxyPort })
  const extra = Object.entries(opts.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${extra}\r\n`)
  let result: HeadResult
  try {
    result = await readHead(socket, opts.timeoutMs ?? 10_000, `CONNECT ${target} via :${proxyPort}`)
  } catch (err) {
    socket.destroy()
    throw err
  }
  if (result.kind === 'gone') {
    socket.destroy()
    return { status: 0, statusText: result.how, headers: {}, body: result.partial.toString('utf8'), socket }
  }
  const { head, rest } = result
  if (head.status === 200) {
    socket.on('error', () => {})
    if (rest.length > 0) socket.unshift(rest)
    return { ...head, body: '', socket }
  }
  const body = await readBody(socket, rest, head, opts.bodyTimeoutMs ?? 5000)
  return { ...head, body: body.toString('utf8'), socket }
}

/**
 * CONNECTs to hostname:port through the proxy, verifies the target's certificate against caPem, and sends
 * `GET path` over the tunnel. Throws if the CONNECT answer is not 200.
 */
export async function httpsGetViaProxy(
  proxyPort: number,
  hostname: string,
  port: number,
  path: string,
  caPem: string,
  opts: HttpsViaProxyOptions = {}
): Promise<HttpsViaProxyResponse> {
  const target = hostPort(hostname, port)
  const timeoutMs = opts.timeoutMs ?? 15_000
  const tunnel = await connectTunnel(proxyPort, target, {
    ...(opts.proxyHeaders ? { headers: opts.proxyHeaders } : {}),
    timeoutMs
  })
  if (tunnel.status !== 200) {
    throw new Error(
      `CONNECT ${target} via :${proxyPort} answered ${tunnel.status} ${tunnel.statusText}: ${tunnel.body.slice(0, 500)}`
    )
  }
  // RFC 6066 forbids IP literals as SNI; hostname verification still uses `host` for IP targets.
  const servername = opts.servername ?? (net.isIP(hostname) ? undefined : hostname)
  const tlsSocket = tls.connect({
    socket: tunnel.socket,
    host: hostname,
    ca: caPem,
    rejectUnauthorized: true,
    ...(servername !== undefined ? { servername } : {})
  })
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = onTimeout(timeoutMs, () => reject(new Error(`TLS handshake with ${target} timed out`)))
      tlsSocket.once('secureConnect', () => {
        clearTimeout(timer)
        resolve()
      })
      tlsSocket.once('error', (err) => {
        clearTimeout(timer)
        reject(new Error(`TLS handshake with ${target} through :${proxyPort} failed: ${err.message}`))
      })
      tlsSocket.once('close', () => {
        clearTimeout(timer)
        reject(new Error(`tunnel to ${target} closed during the TLS handshake`))
      })
    })
  } catch (err) {
    tlsSocket.destroy()
    tunnel.socket.destroy()
    throw err
  }

  return new Promise<HttpsViaProxyResponse>((resolve, reject) => {
    // No agent: with createConnection and agent undefined, Node uses exactly this socket for the request.
    const req = http.request({
      createConnection: () => tlsSocket,
      method: 'GET',
      path,
      headers: { host: target, connection: 'close', ...opts.headers }
    })
    const fail = (err: Error): void => {
      clearTimeout(timer)
      tlsSocket.destroy()
      reject(err)
    }
    const timer = onTimeout(timeoutMs, () =>
      fail(new Error(`GET https://${target}${path} via :${proxyPort} timed out`))
    )
    req.once('error', fail)
    req.once('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('error', fail)
      res.once('end', () => {
        clearTimeout(timer)
        tlsSocket.destroy()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
      })
    })
    req.end()
  })
}

/**
 * Writes raw bytes to 127.0.0.1:port and returns everything received (latin1) until the server closes,
 * resets, or timeoutMs elapses. Rejects only if the connection cannot be made.
 */
export function rawRequest(port: number, text: string | Buffer, timeoutMs = 5000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host: PROXY_HOST, port })
    const chunks: Buffer[] = []
    let connected = false
    let settled = false
    const finish = (): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks).toString('latin1'))
    }
    const timer = onTimeout(timeoutMs, finish)
    socket.once('connect', () => {
      connected = true
      socket.write(text)
    })
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', (err) => {
      if (connected || settled) return
      settled = true
      clearTimeout(timer)
      reject(err)
    })
    socket.on('close', finish)
  })
}

export type Socks5Result = {
  /** False when the server rejected the credentials, refused the method, or the CONNECT failed. */
  ok: boolean
  /** Stage that failed, if any. */
  failedAt?: 'method' | 'auth' | 'connect' | 'closed'
  /** RFC 1928 reply code for the CONNECT (0 = succeeded), when the server got that far. */
  reply?: number
  /** Connected to the target when ok; destroyed otherwise. */
  socket: net.Socket
}

// Collects exactly n bytes, or null if the socket closes first; bounded by timeoutMs.
function readExactly(socket: net.Socket, n: number, timeoutMs: number): Promise<Buffer | null> {
  return new Promise<Buffer | null>((resolve) => {
    let data = Buffer.alloc(0)
    const finish = (value: Buffer | null): void => {
      clearTimeout(timer)
      socket.off('readable', onReadable)
      socket.off('close', onClose)
      resolve(value)
    }
    const onReadable = (): void => {
      for (
        let chunk = socket.read() as Buffer | null;
        chunk !== null;
        chunk = socket.read() as Buffer | null
      ) {
        data = Buffer.concat([data, chunk])
        if (data.length >= n) {
          if (data.length > n) socket.unshift(data.subarray(n))
          finish(data.subarray(0, n))
          return
        }
      }
    }
    const onClose = (): void => finish(null)
    const timer = onTimeout(timeoutMs, () => finish(null))
    socket.on('readable', onReadable)
    socket.on('close', onClose)
    onReadable()
  })
}

/**
 * A minimal SOCKS5 client (RFC 1928 CONNECT with RFC 1929 username/password auth) for probing a SOCKS
 * server on 127.0.0.1 directly. targetHost may be an IPv4/IPv6 literal or a name (sent as a domain name).
 */
export async function socks5Connect(
  socksPort: number,
  auth: { username: string; password: string } | undefined,
  targetHost: string,
  targetPort: number,
  timeoutMs = 5000
): Promise<Socks5Result> {
  const socket = net.connect({ host: PROXY_HOST, port: socksPort })
  const failed = (failedAt: Socks5Result['failedAt'], reply?: number): Socks5Result => {
    socket.destroy()
    return { ok: false, failedAt, ...(reply !== undefined ? { reply } : {}), socket }
  }
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => {})

  const method = auth ? 0x02 : 0x00
  socket.write(Buffer.from([0x05, 0x01, method]))
  const choice = await readExactly(socket, 2, timeoutMs)
  if (!choice) return failed('closed')
  if (choice[0] !== 0x05 || choice[1] !== method) return failed('method')

  if (auth) {
    const user = Buffer.from(auth.username)
    const pass = Buffer.from(auth.password)
    if (user.length > 255 || pass.length > 255)
      throw new Error('socks5Connect: username/password over 255 bytes')
    socket.write(Buffer.concat([Buffer.from([0x01, user.length]), user, Buffer.from([pass.length]), pass]))
    const status = await readExactly(socket, 2, timeoutMs)
    if (!status) return failed('auth')
    if (status[1] !== 0x00) return failed('auth')
  }

  let address: Buffer
  if (net.isIPv4(targetHost)) {
    address = Buffer.from([0x01, ...targetHost.split('.').map(Number)])
  } else if (net.isIPv6(targetHost)) {
    address = Buffer.concat([Buffer.from([0x04]), ipv6Bytes(targetHost)])
  } else {
    const name = Buffer.from(targetHost)
    address = Buffer.concat([Buffer.from([0x03, name.length]), name])
  }
  const portBytes = Buffer.alloc(2)
  portBytes.writeUInt16BE(targetPort)
  socket.write(Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), address, portBytes]))

  const reply = await readExactly(socket, 4, timeoutMs)
  if (!reply) return failed('closed')
  const replyCode = reply[1] ?? 0xff
  if (replyCode !== 0x00) return failed('connect', replyCode)
  const addressType = reply[3]
  const boundLength = addressType === 0x01 ? 4 : addressType === 0x04 ? 16 : -1
  let rest: Buffer | null
  if (boundLength < 0) {
    const len = await readExactly(socket, 1, timeoutMs)
    rest = len ? await readExactly(socket, (len[0] ?? 0) + 2, timeoutMs) : null
  } else {
    rest = await readExactly(socket, boundLength + 2, timeoutMs)
  }
  if (!rest) return failed('closed')
  return { ok: true, reply: 0, socket }
}

// Expands an IPv6 literal without an embedded IPv4 part (enough for '::1' and friends in tests).
function ipv6Bytes(address: string): Buffer {
  const compressed = address.includes('::')
  const [head = '', tail = ''] = address.split('::')
  const headGroups = head ? head.split(':') : []
  const tailGroups = compressed && tail ? tail.split(':') : []
  const zeros = compressed ? 8 - headGroups.length - tailGroups.length : 0
  const groups = [...headGroups, ...Array<string>(Math.max(0, zeros)).fill('0'), ...tailGroups]
  const out = Buffer.alloc(16)
  groups.slice(0, 8).forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2))
  return out
}
