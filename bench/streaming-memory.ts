/**
 * Backpressure, measured: 1 GiB uploaded and 1 GiB downloaded through the engine (statistics and
 * logging on, in its own process), one plain-HTTP request each, then the same through one CONNECT
 * tunnel each way, while the engine's resident memory (VmRSS) is sampled every 50 ms. An engine that buffered instead of streaming would grow by the
 * amount in flight; the target is growth under 64 MiB over its RSS before the transfers.
 *
 * The origin (a sink for the upload, a source for the download) and the client run in this process;
 * only the engine's memory is measured.
 */
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { startChild } from './throughput.ts'
import { rssMiB } from './proc.ts'

export const GIB = 1024 ** 3
const CHUNK = Buffer.alloc(64 * 1024, 'z')

export interface StreamingMemory {
  direction: 'upload' | 'download' | 'tunnel up' | 'tunnel down'
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

/** A TCP peer for tunnels: a first byte `U` makes it a sink that says `done` after `bytes`, else a source. */
function startTunnelPeer(bytes: number): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.once('data', (first) => {
      if (first[0] !== 0x55) return void pump(socket, bytes).then(() => socket.end())
      let received = first.length - 1
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length
        if (received >= bytes) socket.end('done')
      })
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** Opens a CONNECT tunnel to `peerPort` and moves `bytes` through it one way; resolves with the count. */
function tunnel(proxyPort: number, peerPort: number, up: boolean, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1')
    socket.once('error', reject)
    socket.write(`CONNECT 127.0.0.1:${peerPort} HTTP/1.1\r\nHost: 127.0.0.1:${peerPort}\r\n\r\n`)
    socket.once('data', (reply: Buffer) => {
      if (!reply.toString('latin1').startsWith('HTTP/1.1 200')) return reject(new Error(`CONNECT: ${reply}`))
      let received = 0
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length
        if (up || received >= bytes) {
          socket.destroy()
          resolve(up ? bytes : received)
        }
      })
      socket.write(up ? 'U' : 'D')
      if (up) void pump(socket, bytes)
    })
  })
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
  const peer = await startTunnelPeer(bytes)
  const peerPort = (peer.address() as AddressInfo).port
  const proxy = await startChild('./proxy-server.ts', [variant], `proxy child (${variant})`)
  const results: StreamingMemory[] = []
  try {
    // One small request first, so that start-up allocations are not counted as growth.
    await transfer(proxy.port, originPort, 'upload', 1024 * 1024)
    for (const direction of ['upload', 'download', 'tunnel up', 'tunnel down'] as const) {
      const startRssMiB = rssMiB(proxy.pid)
      let peakRssMiB = startRssMiB
      const sampler = setInterval(() => (peakRssMiB = Math.max(peakRssMiB, rssMiB(proxy.pid))), 50)
      const started = process.hrtime.bigint()
      const moved =
        direction === 'upload' || direction === 'download'
          ? await transfer(proxy.port, originPort, direction, bytes)
          : await tunnel(proxy.port, peerPort, direction === 'tunnel up', bytes)
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
    peer.close()
  }
  return results
}
