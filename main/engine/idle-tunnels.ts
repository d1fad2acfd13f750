/**
 * Closes tunnels (CONNECT and upgraded connections) that carried no byte either way for the idle
 * timeout. One sweep over the open tunnels every quarter of the timeout (at most every 10 s) compares
 * each socket's byte counters with the last sweep's, instead of a timer per socket that every read and
 * write must push back: that per-I/O cost showed in tunnel throughput, the sweep's does not. A tunnel
 * closes between the timeout and the timeout plus one sweep interval after its last byte.
 */
import type { ClientConnection } from './account.ts'

export class IdleTunnels {
  private readonly idleMs: number
  private readonly tunnels = new Set<ClientConnection>()
  private timer: NodeJS.Timeout | null = null

  constructor(idleMs: number) {
    this.idleMs = idleMs
  }

  /** Starts watching an open tunnel; it leaves the watch when its socket is gone. */
  add(connection: ClientConnection): void {
    const { socket } = connection
    connection.seenBytes = socket.bytesRead + socket.bytesWritten
    connection.quietSince = Date.now()
    this.tunnels.add(connection)
    this.timer ??= setInterval(() => this.sweep(), Math.min(Math.max(this.idleMs / 4, 25), 10_000)).unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.tunnels.clear()
  }

  private sweep(): void {
    const now = Date.now()
    for (const connection of this.tunnels) {
      const { socket } = connection
      if (socket.destroyed) {
        this.tunnels.delete(connection)
        continue
      }
      const bytes = socket.bytesRead + socket.bytesWritten
      if (bytes !== connection.seenBytes) {
        connection.seenBytes = bytes
        connection.quietSince = now
      } else if (now - connection.quietSince >= this.idleMs) {
        connection.reply = { status: connection.reply?.status ?? 200, code: 'idle-timeout' }
        socket.destroy()
        this.tunnels.delete(connection)
      }
    }
    if (this.tunnels.size === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = null
    }
  }
}
