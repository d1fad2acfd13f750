/**
 * Closes tunnels (CONNECT and upgraded connections) that carried no byte either way for the idle
 * timeout. One sweep over the open tunnels every quarter of the timeout (at most every 10 s) compares
 * each socket's byte counters with the last sweep's, instead of a timer per socket that every read and
 * write must push back: that per-I/O cost showed in tunnel throughput, the sweep's does not. A tunnel
 * closes between the timeout and the timeout plus one sweep interval after its last byte.
 */
import type { Socket } from 'node:net'
import type { ClientConnection } from './account.ts'

export class IdleTunnels {
  private readonly idleMs: number
  /**
   * The engine's open connections (account.ts), tunnels among them marked by `quietSince`. Reading
   * them there, rather than from a set of its own, holds no closed connection until the next sweep:
   * kept that long, short tunnels' objects outlived young-generation collections.
   */
  private readonly open: ReadonlyMap<Socket, ClientConnection>
  private timer: NodeJS.Timeout | null = null

  constructor(idleMs: number, open: ReadonlyMap<Socket, ClientConnection>) {
    this.idleMs = idleMs
    this.open = open
  }

  /** Starts watching an open tunnel until its connection closes. */
  add(connection: ClientConnection): void {
    const { socket } = connection
    connection.seenBytes = socket.bytesRead + socket.bytesWritten
    connection.quietSince = Date.now()
    this.timer ??= setInterval(() => this.sweep(), Math.min(Math.max(this.idleMs / 4, 25), 10_000)).unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private sweep(): void {
    const now = Date.now()
    let tunnels = 0
    for (const connection of this.open.values()) {
      if (connection.quietSince === 0) continue
      tunnels++
      const { socket } = connection
      const bytes = socket.bytesRead + socket.bytesWritten
      if (bytes !== connection.seenBytes) {
        connection.seenBytes = bytes
        connection.quietSince = now
      } else if (now - connection.quietSince >= this.idleMs) {
        connection.reply = { status: connection.reply?.status ?? 200, code: 'idle-timeout' }
        socket.destroy()
      }
    }
    if (tunnels === 0) this.stop()
  }
}
