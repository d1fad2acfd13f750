import { readFileSync } from 'node:fs'
import net from 'node:net'

export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address === null || typeof address === 'string') {
        server.close()
        reject(new Error('freePort: unexpected server address'))
        return
      }
      const { port } = address
      server.close((err) => (err ? reject(err) : resolve(port)))
    })
  })
}

/**
 * A port on 127.0.0.1 that refuses connections, for "dead upstream" members: below the range Linux
 * hands out for `listen(0)` (ip_local_port_range), so no server another test file starts in parallel
 * can take it while it is in use. (In one CI run the group tests' "dead" member, a port from
 * freePort(), carried their requests with 200: most likely another test's server had been given it.)
 */
export async function closedPort(): Promise<number> {
  const ephemeralLow = lowestEphemeralPort()
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralLow - 10_000))
    if (await refuses(port)) return port
  }
  throw new Error('closedPort: no refusing port found below the ephemeral range')
}

/** The lowest port Linux hands out for `listen(0)` and outgoing connections. */
export function lowestEphemeralPort(): number {
  return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
}

function refuses(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
}

function tryConnect(port: number, host: string, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ port, host })
    const finish = (ok: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.once('connect', () => finish(true))
    socket.once('error', () => finish(false))
  })
}

/** Polls a TCP connect to host:port until it succeeds; rejects once timeoutMs has elapsed. */
export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const remaining = deadline - Date.now()
    if (remaining <= 0) break
    if (await tryConnect(port, host, Math.min(1000, remaining))) return
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, deadline - Date.now()))))
  }
  throw new Error(`waitForPort: nothing accepted connections on ${host}:${port} within ${timeoutMs} ms`)
}
