/**
 * A TCP relay on 127.0.0.1 in front of a real server, counting the connections it carries: placed in
 * front of each hop of a chain, it shows that traffic really passed that hop (the hop before it, not
 * Junction, opened the connection when the relay is a middle hop's address).
 */
import net from 'node:net'

export interface CountingRelay {
  port: number
  /** Connections accepted so far. */
  readonly accepted: number
  /** Connections open right now. */
  readonly open: number
  close(): Promise<void>
}

export async function startCountingRelay(targetPort: number): Promise<CountingRelay> {
  let accepted = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    accepted++
    const target = net.connect({ host: '127.0.0.1', port: targetPort })
    for (const socket of [client, target]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.once('close', () => {
        sockets.delete(socket)
        client.destroy()
        target.destroy()
      })
    }
    client.pipe(target)
    target.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted
    },
    get open() {
      return [...sockets].filter((s) => s.remotePort === targetPort).length
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    }
  }
}
