/**
 * Two kinds of dead peer on loopback, for timeout tests that must not leave 127.0.0.0/8:
 *
 * - `startSilentPeer`: accepts TCP connections and never sends a byte (a hung server or proxy).
 * - `startUnreachablePeer`: a port whose connection attempts get no answer at all, as from a host that
 *   drops packets. A child Node process listens with a backlog of 1 and then blocks its own event
 *   loop, so it never accepts; connections are made to it until one stalls, which fills its accept
 *   queue. From then on Linux drops each new SYN (tcp_conn_request: accept queue full), and a client's
 *   connect() waits through SYN retransmissions (about 130 s with the default tcp_syn_retries) unless
 *   something gives up first. Nothing is sent anywhere but 127.0.0.1.
 */
import net from 'node:net'
import { startChild, type ManagedChild } from './child.ts'

export interface SilentPeer {
  port: number
  close(): Promise<void>
}

/**
 * Accepts, reads and discards, never writes, and never closes its side: a peer that receives FIN keeps
 * its socket half-open, so only a socket the proxy destroys (rather than just ends) really goes away.
 * It runs in a child process, so that the test process's file descriptors are the proxy's and the
 * client's alone. With `opensTunnels`, it first answers a request head with `200 Connection
 * Established`, as an HTTP proxy whose tunnels hang would.
 */
const SILENT = `
const opensTunnels = process.argv.includes('--opens-tunnels')
const server = require('node:net').createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => {})
  let head = ''
  const onData = (chunk) => {
    head += chunk.toString('latin1')
    if (!head.includes('\\r\\n\\r\\n')) return
    socket.removeListener('data', onData)
    socket.resume()
    socket.write('HTTP/1.1 200 Connection Established\\r\\n\\r\\n')
  }
  if (opensTunnels) socket.on('data', onData)
  else socket.resume()
})
server.listen({ port: 0, host: '127.0.0.1' }, () => process.stdout.write(server.address().port + '\\n'))
setTimeout(() => process.exit(0), 600000)
`

export async function startSilentPeer(options: { opensTunnels?: boolean } = {}): Promise<SilentPeer> {
  const child = startChild(process.execPath, [
    '-e',
    SILENT,
    ...(options.opensTunnels ? ['--', '--opens-tunnels'] : [])
  ])
  const port = await portOf(child)
  return { port, close: () => child.stop(1000) }
}

function portOf(child: ManagedChild): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let text = ''
    child.proc.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes('\n')) resolve(Number(text.trim()))
    })
    void child.exited.then((how) => reject(new Error(`black-hole listener exited: ${how}`)))
  })
}

export interface UnreachablePeer {
  port: number
  close(): Promise<void>
}

/**
 * Listens, prints its port (a synchronous write: stdout is a pipe), then blocks its event loop for
 * good. Exits after 10 minutes at most, should the test runner ever fail to stop it.
 */
const NEVER_ACCEPT = `
const server = require('node:net').createServer()
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n')
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600000)
  process.exit(0)
})
`

export async function startUnreachablePeer(): Promise<UnreachablePeer> {
  const child = startChild(process.execPath, ['-e', NEVER_ACCEPT])
  const port = await portOf(child)
  // Fill the accept queue: connect until an attempt stalls (backlog 1 holds about two connections).
  const fillers: net.Socket[] = []
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(port, '127.0.0.1')
    socket.on('error', () => {})
    fillers.push(socket)
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve(true)
      })
    })
    if (!connected) {
      return {
        port,
        async close() {
          for (const filler of fillers) filler.destroy()
          await child.stop(1000)
        }
      }
    }
  }
  for (const filler of fillers) filler.destroy()
  await child.stop(1000)
  throw new Error('the accept queue of the never-accepting listener did not fill up')
}
