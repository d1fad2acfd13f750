/**
 * An origin that records exactly what reached it: the raw bytes of every connection (to prove that no
 * smuggled second request rode along) and each request as Node parsed it, including ones whose body
 * never finished. It accepts request heads up to 256 KiB, so a request at the edge of Junction's own
 * limit can pass through, and answers each request with a small JSON description and Connection:
 * close, so no pooled connection outlives a test case.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface SeenRequest {
  method: string
  url: string
  rawHeaders: string[]
  bodyBytes: number
  /** The body arrived whole. */
  complete: boolean
  /** The connection closed before the body was complete. */
  aborted: boolean
}

export interface RecordingOrigin {
  port: number
  /** `127.0.0.1:port` */
  authority: string
  requests: SeenRequest[]
  /** Raw bytes received, one entry per connection (latin1). */
  connections: string[]
  clear(): void
  close(): Promise<void>
}

export async function startRecordingOrigin(): Promise<RecordingOrigin> {
  const requests: SeenRequest[] = []
  const connections: string[] = []
  const server = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    const seen: SeenRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      complete: false,
      aborted: false
    }
    requests.push(seen)
    req.on('data', (chunk: Buffer) => (seen.bodyBytes += chunk.length))
    req.once('end', () => {
      seen.complete = true
      const body = JSON.stringify({ method: seen.method, url: seen.url, bodyBytes: seen.bodyBytes })
      res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' })
      res.end(body)
    })
    req.once('close', () => (seen.aborted = !seen.complete))
  })
  server.on('connection', (socket: Socket) => {
    const index = connections.push('') - 1
    // A 'data' listener makes Node hand this socket's bytes to JavaScript too: fine for a test origin.
    socket.on('data', (chunk: Buffer) => (connections[index] += chunk.toString('latin1')))
  })
  server.on('clientError', (_error, socket) => socket.destroy())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    authority: `127.0.0.1:${port}`,
    requests,
    connections,
    clear() {
      requests.length = 0
      connections.length = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
