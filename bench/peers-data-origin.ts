/**
 * Child process for the peers benchmark's bulk workloads: a plain TCP server that reads one line with a
 * byte count, sends that many bytes and closes. Through a CONNECT tunnel this is the whole transfer in
 * one stream with no HTTP framing, so MiB/s measures the proxy's splicing and nothing else; the client
 * checks that exactly the requested count arrived before the close. Prints `{"port":N}` once listening.
 */
import net from 'node:net'
import { announcePort, exitOnSignalOrOrphan } from './child-common.ts'

const CHUNK = Buffer.alloc(1024 * 1024, 'b')
/** A request line longer than this is not ours. */
const MAX_LINE = 32

function send(socket: net.Socket, bytes: number): void {
  let left = bytes
  const pump = (): void => {
    while (left > 0) {
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left)
      left -= chunk.length
      if (!socket.write(chunk)) return void socket.once('drain', pump)
    }
    socket.end()
  }
  pump()
}

const server = net.createServer((socket) => {
  let line = ''
  socket.on('error', () => socket.destroy())
  socket.on('data', function onData(chunk: Buffer) {
    line += chunk.toString('latin1')
    const end = line.indexOf('\n')
    if (end < 0) {
      if (line.length > MAX_LINE) socket.destroy()
      return
    }
    socket.off('data', onData)
    const bytes = Number(line.slice(0, end))
    if (!Number.isSafeInteger(bytes) || bytes < 0) return void socket.destroy()
    send(socket, bytes)
  })
})

server.listen(0, '127.0.0.1', () => {
  exitOnSignalOrOrphan(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of connections) socket.destroy()
      })
  )
  announcePort((server.address() as net.AddressInfo).port)
})
const connections = new Set<net.Socket>()
server.on('connection', (socket) => {
  connections.add(socket)
  socket.once('close', () => connections.delete(socket))
})
