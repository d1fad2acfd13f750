/**
 * A raw TCP client for hostile-input tests: it writes exact bytes (at once or trickled), parses every
 * response the server sends back, and tells whether and when the server closed the connection.
 */
import net from 'node:net'

export interface RawResponse {
  status: number
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: string
}

export interface RawOutcome {
  responses: RawResponse[]
  /** Whether the server closed (or reset) the connection before the wait ended. */
  closed: boolean
  /** From connecting to the close, or to the end of the wait when still open. */
  elapsedMs: number
}

/** How long to wait in `exchange`, and when to stop early. */
export interface ExchangeOptions {
  /** Stop waiting after this long; default 5 s. */
  timeoutMs?: number
  /**
   * Stop once this many complete responses arrived, plus `settleMs` to see whether the server then
   * closes; without it, wait for the close or the timeout.
   */
  responses?: number
  /** Default 150 ms. */
  settleMs?: number
}

const HOST = '127.0.0.1'

/** One connection to 127.0.0.1:port with everything it received. */
export class RawConnection {
  readonly socket: net.Socket
  private received = Buffer.alloc(0)
  private readonly openedAt = Date.now()
  private closedAt: number | null = null
  private readonly waiters = new Set<() => void>()

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk])
      this.wake()
    })
    // A reset is one way for the server to close; it is reported as closed, not thrown.
    socket.on('error', () => {})
    socket.once('close', () => {
      this.closedAt = Date.now()
      this.wake()
    })
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: HOST, port })
      socket.once('connect', () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  get closed(): boolean {
    return this.closedAt !== null
  }

  get elapsedMs(): number {
    return (this.closedAt ?? Date.now()) - this.openedAt
  }

  /** Every complete response received so far (a body without a length runs to the close). */
  get responses(): RawResponse[] {
    return parseResponses(this.received.toString('latin1'), this.closed)
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data)
  }

  /**
   * Writes `data` one byte every `everyMs`, stopping early when the server closes; resolves with the
   * number of bytes written.
   */
  async trickle(data: string, everyMs: number): Promise<number> {
    let written = 0
    for (const byte of Buffer.from(data, 'latin1')) {
      if (this.closed || this.socket.destroyed) break
      this.socket.write(Buffer.of(byte))
      written++
      await this.waitUntil(() => this.closed, everyMs)
    }
    return written
  }

  /** Resolves true once `done()` holds, false after `timeoutMs`. */
  waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true)
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return
        finish(true)
      }
      const finish = (result: boolean): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve(result)
      }
      const timer = setTimeout(() => finish(done()), timeoutMs)
      this.waiters.add(check)
    })
  }

  waitForResponses(count: number, timeoutMs: number): Promise<boolean> {
    return this.waitUntil(() => this.responses.length >= count, timeoutMs)
  }

  waitForClose(timeoutMs: number): Promise<boolean> {
    return this.waitUntil(() => this.closed, timeoutMs)
  }

  outcome(): RawOutcome {
    return { responses: this.responses, closed: this.closed, elapsedMs: this.elapsedMs }
  }

  destroy(): void {
    this.socket.destroy()
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}

/** Sends `data` on a new connection and reports what came back, then closes the connection. */
export async function exchange(
  port: number,
  data: string | Buffer,
  options: ExchangeOptions = {}
): Promise<RawOutcome> {
  const timeoutMs = options.timeoutMs ?? 5000
  const connection = await RawConnection.open(port)
  try {
    connection.write(data)
    if (options.responses === undefined) {
      await connection.waitForClose(timeoutMs)
    } else if (await connection.waitForResponses(options.responses, timeoutMs)) {
      await connection.waitForClose(options.settleMs ?? 150)
    }
    return connection.outcome()
  } finally {
    connection.destroy()
  }
}

/** Splits a byte stream (latin1) into HTTP/1.1 responses; a trailing incomplete one is left out. */
function parseResponses(text: string, closed: boolean): RawResponse[] {
  const out: RawResponse[] = []
  let at = 0
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at)
    if (headEnd === -1) break
    const [statusLine, ...lines] = text.slice(at, headEnd).split('\r\n')
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)
    if (!status) break
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    // A tunnel's 200 and a switch of protocols have no body; the bytes after them are the tunnel's.
    const bodiless = /^HTTP\/1\.[01] (1\d\d|204|304|200 Connection Established)/.test(statusLine!)
    const body = bodiless ? { text: '', end: headEnd + 4 } : readBody(text, headEnd + 4, headers, closed)
    if (!body) break
    out.push({ status: Number(status[1]), headers, body: body.text })
    at = body.end
  }
  return out
}

function readBody(
  text: string,
  start: number,
  headers: Record<string, string>,
  closed: boolean
): { text: string; end: number } | null {
  if (headers['content-length'] !== undefined) {
    const end = start + Number(headers['content-length'])
    return end <= text.length ? { text: text.slice(start, end), end } : null
  }
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    let at = start
    let body = ''
    for (;;) {
      const lineEnd = text.indexOf('\r\n', at)
      if (lineEnd === -1) return null
      const size = parseInt(text.slice(at, lineEnd), 16)
      if (size === 0) {
        const end = text.indexOf('\r\n\r\n', lineEnd)
        return end === -1 ? null : { text: body, end: end + 4 }
      }
      if (lineEnd + 2 + size + 2 > text.length) return null
      body += text.slice(lineEnd + 2, lineEnd + 2 + size)
      at = lineEnd + 2 + size + 2
    }
  }
  return closed ? { text: text.slice(start), end: text.length } : null
}
