/**
 * Backpressure, measured: 1 GiB uploaded and 1 GiB downloaded through the engine (statistics and
 * logging on, in its own process), one plain-HTTP request each, while the engine's resident memory
 * (VmRSS) is sampled every 50 ms. An engine that buffered instead of streaming would grow by the
 * amount in flight; the target is growth under 64 MiB over its RSS before the transfers.
 *
 * The origin (a sink for the upload, a source for the download) and the client run in this process;
 * only the engine's memory is measured.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startChild } from './throughput.ts'
import { rssMiB } from './proc.ts'

export const GIB = 1024 ** 3
const CHUNK = Buffer.alloc(64 * 1024, 'z')

export interface StreamingMemory {
  direction: 'upload' | 'download'
  bytes: number
  seconds: number
  startRssMiB: number
  peakRssMiB: number
  growthMiB: number
  /** RSS one second after the transfer ended, and its distance from the start: what the transfer left. */
  afterRssMiB: number
  leftMiB: number
}

/** Writes `bytes` to `stream`, waiting for 'drain' whenever it says so. */
async function pump(stream: NodeJS.WritableStream, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length)
    if (!stream.write(CHUNK)) await new Promise((resolve) => stream.once('drain', resolve))
}

function startOrigin(bytes: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === 'POST') {
      let received = 0
      req.on('data', (chunk: Buffer) => (received += chunk.length))
      req.once('end', () => res.end(String(received)))
      return
    }
    // Text, so that a body-edit rule (the engine-edits variant) looks at it.
    res.writeHead(200, { 'Content-Length': bytes, 'Content-Type': 'text/plain' })
    void pump(res, bytes).then(() => res.end())
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

function transfer(
  proxyPort: number,
  originPort: number,
  direction: StreamingMemory['direction'],
  bytes: number
) {
  return new Promise<number>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: proxyPort,
      method: direction === 'upload' ? 'POST' : 'GET',
      path: `http://127.0.0.1:${originPort}/`,
      headers: direction === 'upload' ? { 'Content-Length': bytes } : {}
    })
    req.once('error', reject)
    req.once('response', (res) => {
      let received = 0
      let text = ''
      res.on('data', (chunk: Buffer) => {
        received += chunk.length
        if (direction === 'upload') text += chunk.toString()
      })
      res.once('end', () => resolve(direction === 'upload' ? Number(text) : received))
    })
    if (direction === 'upload') void pump(req, bytes).then(() => req.end())
    else req.end()
  })
}

export async function measureStreamingMemory(
  bytes = GIB,
  variant: 'engine-stats' | 'previous-stats' | 'engine-edits' = 'engine-stats'
): Promise<StreamingMemory[]> {
  const origin = await startOrigin(bytes)
  const originPort = (origin.address() as AddressInfo).port
  const proxy = await startChild('./proxy-server.ts', [variant], `proxy child (${variant})`)
  const results: StreamingMemory[] = []
  try {
    // One small request first, so that start-up allocations are not counted as growth.
    await transfer(proxy.port, originPort, 'upload', 1024 * 1024)
    for (const direction of ['upload', 'download'] as const) {
      const startRssMiB = rssMiB(proxy.pid)
      let peakRssMiB = startRssMiB
      const sampler = setInterval(() => (peakRssMiB = Math.max(peakRssMiB, rssMiB(proxy.pid))), 50)
      const started = process.hrtime.bigint()
      const moved = await transfer(proxy.port, originPort, direction, bytes)
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      clearInterval(sampler)
      if (moved !== bytes) throw new Error(`${direction}: ${moved} of ${bytes} bytes arrived`)
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const afterRssMiB = rssMiB(proxy.pid)
      results.push({
        direction,
        bytes,
        seconds,
        startRssMiB,
        peakRssMiB,
        growthMiB: peakRssMiB - startRssMiB,
        afterRssMiB,
        leftMiB: afterRssMiB - startRssMiB
      })
    }
  } finally {
    await proxy.stop()
    origin.closeAllConnections()
    origin.close()
  }
  return results
}
