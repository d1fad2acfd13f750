/**
 * Child process for the throughput benchmark: the origin every proxied request ends at. Answers every
 * request 200 with the same 1 KiB body (1 MiB for /bulk; keep-alive allowed), so the origin's own cost
 * is small and identical for both proxies. Prints `{"port":N}` once listening.
 *
 * `GET /__served` reports how many other requests it has answered: the benchmark compares that with
 * the client's count to prove the traffic really went through the proxy to this server.
 */
import http from 'node:http'
import {
  announcePort,
  BODY_BYTES,
  BULK_BYTES,
  BULK_PATH,
  exitOnSignalOrOrphan,
  SERVED_PATH
} from './child-common.ts'

const body = Buffer.alloc(BODY_BYTES, 'x')
const bulk = Buffer.alloc(BULK_BYTES, 'b')
let served = 0

const server = http.createServer((req, res) => {
  if (req.url === SERVED_PATH) {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ served }))
    return
  }
  served++
  const payload = req.url === BULK_PATH ? bulk : body
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': payload.length })
  res.end(payload)
})
// Longer than any pause between benchmark rounds, so idle proxy→origin keep-alive sockets are not
// closed under a proxy while it is being measured.
server.keepAliveTimeout = 30_000

server.listen(0, '127.0.0.1', () => {
  exitOnSignalOrOrphan(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  )
  announcePort((server.address() as { port: number }).port)
})
