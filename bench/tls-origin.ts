/**
 * Child process for the interception benchmark: an HTTPS origin (key and certificate from the PEM
 * files in BENCH_ORIGIN_KEY and BENCH_ORIGIN_CERT) answering every request with 1 KiB over keep-alive.
 * Prints its port once listening.
 */
import { readFileSync } from 'node:fs'
import https from 'node:https'
import { announcePort, BODY_BYTES, exitOnSignalOrOrphan } from './child-common.ts'

const key = process.env.BENCH_ORIGIN_KEY
const cert = process.env.BENCH_ORIGIN_CERT
if (!key || !cert) throw new Error('tls-origin needs BENCH_ORIGIN_KEY and BENCH_ORIGIN_CERT')
const body = Buffer.alloc(BODY_BYTES, 'x')
const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length })
  res.end(body)
})
server.keepAliveTimeout = 30_000
server.on('tlsClientError', (_error, socket) => socket.destroy())
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
