/**
 * An HTTP origin on 127.0.0.1 that fails on purpose, written on raw sockets so that every byte it sends
 * is exactly what a broken server would send:
 *
 * - `/cut-length/N`: `Content-Length: 2N`, then N bytes, then the connection is reset;
 * - `/cut-chunked/N`: a chunked body of N bytes with no final chunk, then the connection is reset;
 * - `/headers/N`: a `200` whose header block is about N bytes (one `X-Filler` header per KiB), body `ok`;
 * - `/stall/N`: `Content-Length: 2N`, then N bytes, then nothing, with the connection left open;
 * - `/garbage`: a line that is not HTTP at all, then the connection closes.
 *
 * Each cut is sent only after the bytes before it were handed to the kernel, so the proxy really has
 * received them when the connection drops.
 */
import net from 'node:net'

export interface FaultyOrigin {
  port: number
  url: string
  /** Connections still open (a `stall` keeps its connection open). */
  connections(): number
  close(): Promise<void>
}

export const PART = 'x'

function head(status: string, headers: string[]): string {
  return `HTTP/1.1 ${status}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`
}

function answer(socket: net.Socket, path: string): void {
  let m: RegExpExecArray | null
  if ((m = /^\/cut-length\/(\d+)$/.exec(path))) {
    const n = Number(m[1])
    socket.write(head('200 OK', [`Content-Length: ${2 * n}`, 'Content-Type: text/plain']))
    socket.write(PART.repeat(n), () => socket.resetAndDestroy())
    return
  }
  if ((m = /^\/cut-chunked\/(\d+)$/.exec(path))) {
    const n = Number(m[1])
    socket.write(head('200 OK', ['Transfer-Encoding: chunked', 'Content-Type: text/plain']))
    socket.write(`${n.toString(16)}\r\n${PART.repeat(n)}\r\n`, () => socket.resetAndDestroy())
    return
  }
  if ((m = /^\/headers\/(\d+)$/.exec(path))) {
    const filler = Array.from(
      { length: Math.ceil(Number(m[1]) / 1024) },
      (_, i) => `X-Filler-${i}: ${'f'.repeat(1000)}`
    )
    socket.end(head('200 OK', [...filler, 'Content-Length: 2', 'Connection: close']) + 'ok')
    return
  }
  if ((m = /^\/stall\/(\d+)$/.exec(path))) {
    const n = Number(m[1])
    socket.write(head('200 OK', [`Content-Length: ${2 * n}`, 'Content-Type: text/plain']))
    socket.write(PART.repeat(n))
    return
  }
  if (path === '/garbage') return void socket.end('SSH-2.0-OpenSSH_9.2\r\n')
  socket.end(head('404 Not Found', ['Content-Length: 0', 'Connection: close']))
}

export async function startFaultyOrigin(): Promise<FaultyOrigin> {
  const open = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    open.add(socket)
    socket.on('error', () => {})
    socket.once('close', () => open.delete(socket))
    let received = ''
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1')
      const end = received.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.removeListener('data', onData)
      socket.resume()
      const target = received.slice(0, received.indexOf('\r\n')).split(' ')[1] ?? '/'
      // Absolute form when an upstream proxy forwards it as such is not expected; origin form is.
      answer(socket, target.replace(/^https?:\/\/[^/]+/, ''))
    }
    socket.on('data', onData)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections: () => open.size,
    async close() {
      for (const socket of open) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
