/**
 * A WebSocket client that goes through an HTTP proxy the way browsers and many dev tools send `ws://`
 * URLs to one: an absolute-URI `GET http://host/path` with `Upgrade: websocket`. The `ws` package sends
 * only origin-form requests, so the handshake is made here with `http.request` and the frames (short
 * text frames only, RFC 6455 §5.2) are written and read by hand.
 */
import { createHash, randomBytes } from 'node:crypto'
import http, { type IncomingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'

export interface ProxiedWebSocket {
  status: number
  headers: IncomingHttpHeaders
  /** The response body when the upgrade was refused. */
  body: string
  send(text: string): void
  /** The next text message from the server. */
  next(timeoutMs?: number): Promise<string>
  close(): void
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

export function openWebSocketViaProxy(
  proxyPort: number,
  url: string,
  headers: Record<string, string> = {}
): Promise<ProxiedWebSocket> {
  const key = randomBytes(16).toString('base64')
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: proxyPort,
      path: url,
      headers: {
        Host: new URL(url).host,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
        ...headers
      }
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to the upgrade of ${url}`)))
    req.once('error', reject)
    req.once('upgrade', (res, socket: Socket, head: Buffer) => {
      const expected = createHash('sha1')
        .update(key + GUID)
        .digest('base64')
      if (res.headers['sec-websocket-accept'] !== expected) {
        socket.destroy()
        return reject(new Error(`bad Sec-WebSocket-Accept: ${res.headers['sec-websocket-accept']}`))
      }
      resolve(framed(res.statusCode!, res.headers, socket, head))
    })
    req.once('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.once('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          send: () => {
            throw new Error('not upgraded')
          },
          next: () => Promise.reject(new Error('not upgraded')),
          close: () => res.destroy()
        })
      )
    })
    req.end()
  })
}

function framed(
  status: number,
  headers: IncomingHttpHeaders,
  socket: Socket,
  head: Buffer
): ProxiedWebSocket {
  let buffered = head
  const messages: string[] = []
  const waiting: ((text: string) => void)[] = []
  const parse = (): void => {
    // Unmasked server frames with payloads under 126 bytes: 2-byte header, then the payload.
    while (buffered.length >= 2 && buffered.length >= 2 + (buffered[1]! & 0x7f)) {
      const length = buffered[1]! & 0x7f
      const text = buffered.subarray(2, 2 + length).toString()
      buffered = buffered.subarray(2 + length)
      const waiter = waiting.shift()
      if (waiter) waiter(text)
      else messages.push(text)
    }
  }
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    parse()
  })
  socket.on('error', () => {})
  parse()
  return {
    status,
    headers,
    body: '',
    send(text) {
      const payload = Buffer.from(text)
      if (payload.length >= 126) throw new Error('only short frames')
      const mask = randomBytes(4)
      const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))
      socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]))
    },
    next(timeoutMs = 5000) {
      const ready = messages.shift()
      if (ready !== undefined) return Promise.resolve(ready)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no WebSocket message in time')), timeoutMs)
        waiting.push((text) => {
          clearTimeout(timer)
          resolve(text)
        })
      })
    },
    close: () => socket.destroy()
  }
}
