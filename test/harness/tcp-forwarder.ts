/**
 * A TCP listener on 127.0.0.1 that stands in front of a real upstream, for group tests: it counts the
 * connections it accepts and, by `mode`, forwards them (optionally delaying every chunk both ways) or
 * resets them at once — an upstream that refuses, on a port the test owns, so attempts can be counted.
 */
import net from 'node:net'

export interface TcpForwarder {
  port: number
  /** Connections accepted so far. */
  readonly accepted: number
  mode: 'forward' | 'reset'
  close(): Promise<void>
}

export async function startTcpForwarder(options: {
  targetPort: number
  /** Added to every chunk in each direction; 0 forwards at once. */
  delayMs?: number
  mode?: 'forward' | 'reset'
}): Promise<TcpForwarder> {
  const delayMs = options.delayMs ?? 0
  const sockets = new Set<net.Socket>()
  let accepted = 0
  const server = net.createServer((client) => {
    accepted++
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => undefined)
    if (forwarder.mode === 'reset') return void client.resetAndDestroy()
    const target = net.connect(options.targetPort, '127.0.0.1')
    sockets.add(target)
    target.on('close', () => sockets.delete(target))
    target.on('error', () => client.destroy())
    client.on('close', () => target.destroy())
    target.on('close', () => client.destroy())
    relay(client, target, delayMs)
    relay(target, client, delayMs)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const forwarder: TcpForwarder = {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted
    },
    mode: options.mode ?? 'forward',
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
  return forwarder
}

/** Copies `from` to `to`, each chunk `delayMs` later (in order: the timers fire in order). */
function relay(from: net.Socket, to: net.Socket, delayMs: number): void {
  if (delayMs === 0) return void from.pipe(to)
  from.on('data', (chunk: Buffer) => setTimeout(() => to.writable && to.write(chunk), delayMs))
  from.on('end', () => setTimeout(() => to.writable && to.end(), delayMs))
}
