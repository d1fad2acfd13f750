/**
 * CONNECT tunnels that go straight to the target.
 *
 * Junction connects to the target before answering the client: a failure becomes a readable 502/504
 * (see errors.ts) instead of a silently closed socket; success is answered with
 * `200 Connection Established` and the two sockets are joined.
 */
import net from 'node:net'
import type { LookupFunction } from 'node:net'
import { bareHost } from './host.ts'
import { noteStreamed } from '../stats/memory-return.ts'

export interface DirectConnectOptions {
  host: string
  port: number
  lookup?: LookupFunction | undefined
  timeoutMs: number
  /**
   * The client socket this connection is for: when it closes first, the attempt is given up (the
   * half-open socket destroyed) instead of running on to its timeout for nobody.
   */
  owner?: net.Socket | undefined
}

/**
 * Opens a TCP connection; rejects with an errno-style error (ETIMEDOUT on timeout, ECONNABORTED when
 * the owner left first).
 */
export function connectTarget(options: DirectConnectOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const host = bareHost(options.host)
    const { owner } = options
    const socket = net.connect({
      host,
      port: options.port,
      ...(options.lookup ? { lookup: options.lookup } : {})
    })
    const settle = (error: Error | null): void => {
      clearTimeout(timer)
      socket.removeListener('error', settle)
      owner?.removeListener('close', abandoned)
      if (!error) return resolve(socket)
      socket.destroy()
      reject(error)
    }
    const timer = setTimeout(
      () =>
        settle(Object.assign(new Error(`connect ETIMEDOUT ${host}:${options.port}`), { code: 'ETIMEDOUT' })),
      options.timeoutMs
    )
    const abandoned = (): void =>
      settle(
        Object.assign(new Error('the client left before the connection was made'), { code: 'ECONNABORTED' })
      )
    socket.once('connect', () => settle(null))
    socket.once('error', settle)
    owner?.once('close', abandoned)
  })
}

/**
 * Joins a client and a target socket both ways (closeTogether says how they end).
 */
export function joinSockets(client: net.Socket, target: net.Socket, finishMs: number): void {
  client.pipe(target)
  target.pipe(client)
  countStreamed(client, target)
  target.on('error', () => client.destroy())
  client.on('error', () => target.destroy())
  closeTogether(client, target, finishMs)
}

/** Lets memory-return.ts free what a tunnel carried, whoever pipes it (noteStreamed says why). */
export function countStreamed(client: net.Socket, target: net.Socket): void {
  client.on('data', noteStreamed)
  target.on('data', noteStreamed)
}

/**
 * How a tunnel's two sockets end, whoever carries the bytes (joinSockets, or proxy-chain for tunnels
 * through HTTP/HTTPS upstreams):
 * - when either closes, the other is destroyed once it has written what it still had to
 *   (`destroySoon`): `end()` alone leaves it half-open for as long as its peer keeps its own side
 *   open, which a hung peer does forever;
 * - when the client half-closes (its FIN is passed on), the target has `finishMs` of quiet to finish
 *   its answer, then both close. Clients close tunnels this way when they leave (the server's sockets
 *   stay open after a FIN), so a target that never answers would otherwise hold both sockets until the
 *   idle timeout. (HAProxy's `timeout client-fin` guards the same case.)
 */
export function closeTogether(client: net.Socket, target: net.Socket, finishMs: number): void {
  target.once('close', () => {
    client.resume()
    client.destroySoon()
  })
  client.once('close', () => {
    target.resume()
    target.destroySoon()
  })
  client.once('end', () => target.setTimeout(finishMs, () => target.destroy()))
}
