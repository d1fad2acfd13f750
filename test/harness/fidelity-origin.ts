/**
 * Origins for protocol-fidelity tests, all on 127.0.0.1:
 * - `http`: server-sent events, a duplex echo, `Expect: 100-continue`, trailers, a 30 KiB response
 *   header, and a WebSocket echo (`ws` package) at /ws whose first message reports the upgrade
 *   request's `X-Edited` and `Via` headers;
 * - `closeDelimited`: answers every request with a body that ends when the connection closes;
 * - `blackHole`: accepts connections and never answers.
 */
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'

export interface FidelityOrigins {
  http: { port: number; url: string }
  closeDelimited: { port: number; url: string }
  blackHole: { port: number; url: string; connections: () => number }
  close(): Promise<void>
}

/** Server-sent events: this many, this far apart, each carrying the time it was written. */
export const SSE_EVENTS = 10
export const SSE_GAP_MS = 100

function onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]
  if (path === '/sse') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' })
    let sent = 0
    const timer = setInterval(() => {
      res.write(`data: ${Date.now()}\n\n`)
      if (++sent === SSE_EVENTS) {
        clearInterval(timer)
        res.end()
      }
    }, SSE_GAP_MS)
    res.once('close', () => clearInterval(timer))
    return
  }
  if (path === '/duplex') {
    // Echoes each chunk as it arrives, before the request has ended.
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
    req.on('data', (chunk: Buffer) => res.write(chunk))
    req.once('end', () => res.end())
    return
  }
  if (path === '/count') {
    let bytes = 0
    req.on('data', (chunk: Buffer) => (bytes += chunk.length))
    req.once('end', () => res.end(String(bytes)))
    return
  }
  if (path === '/trailers') {
    res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Checksum' })
    res.write('body with a trailer')
    res.addTrailers({ 'X-Checksum': 'c0ffee' })
    res.end()
    return
  }
  if (path === '/big-header') {
    res.writeHead(200, { 'X-Big': 'b'.repeat(30 * 1024), 'Content-Length': '2' })
    res.end('ok')
    return
  }
  if (path === '/sized') {
    // For HEAD: Node sends the Content-Length and leaves the body out.
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '1000' })
    res.end(Buffer.alloc(1000))
    return
  }
  if (path === '/headers') {
    const body = JSON.stringify({ rawHeaders: req.rawHeaders })
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'X-Origin-Drop': 'secret',
      'X-Origin-Keep': 'kept',
      Server: 'fidelity-origin'
    })
    res.end(body)
    return
  }
  res.writeHead(404).end()
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

export async function startFidelityOrigins(): Promise<FidelityOrigins> {
  const server = http.createServer(onRequest)
  server.on('checkContinue', (req, res) => {
    res.writeContinue()
    onRequest(req, res)
  })
  const wss = new WebSocketServer({ server, path: '/ws' })
  wss.on('connection', (ws, req) => {
    ws.send(JSON.stringify({ edited: req.headers['x-edited'] ?? null, via: req.headers.via ?? null }))
    ws.on('message', (data) => ws.send(`echo: ${String(data)}`))
  })
  const closeDelimited = net.createServer((socket) => {
    socket.once('data', () =>
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the connection closes')
    )
    socket.on('error', () => {})
  })
  const silent = new Set<net.Socket>()
  const blackHole = net.createServer((socket) => {
    silent.add(socket)
    // Reads (and ignores) what arrives, so that the peer closing is noticed.
    socket.resume()
    socket.on('error', () => {})
    socket.once('close', () => silent.delete(socket))
  })
  const [httpPort, closePort, holePort] = await Promise.all([
    listen(server),
    listen(closeDelimited),
    listen(blackHole)
  ])
  return {
    http: { port: httpPort, url: `http://127.0.0.1:${httpPort}` },
    closeDelimited: { port: closePort, url: `http://127.0.0.1:${closePort}` },
    blackHole: { port: holePort, url: `http://127.0.0.1:${holePort}`, connections: () => silent.size },
    async close() {
      for (const socket of silent) socket.destroy()
      for (const client of wss.clients) client.terminate()
      server.closeAllConnections()
      await Promise.all(
        [server, closeDelimited, blackHole].map(
          (s) => new Promise<void>((resolve) => s.close(() => resolve()))
        )
      )
    }
  }
}
