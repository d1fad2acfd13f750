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

export interface DirectConnectOptions {
  host: string
  port: number
  lookup?: LookupFunction | undefined
  timeoutMs: number
}

/** Opens a TCP connection to the target; rejects with an errno-style error (ETIMEDOUT on timeout). */
export function connectTarget(options: DirectConnectOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const host = bareHost(options.host)
    const socket = net.connect({
      host,
      port: options.port,
      ...(options.lookup ? { lookup: options.lookup } : {})
    })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(Object.assign(new Error(`connect ETIMEDOUT ${host}:${options.port}`), { code: 'ETIMEDOUT' }))
    }, options.timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeListener('error', onError)
      resolve(socket)
    })
    const onError = (error: Error): void => {
      clearTimeout(timer)
      reject(error)
    }
    socket.once('error', onError)
  })
}

/** Joins a client and a target socket both ways; closing either side ends the other. */
export function joinSockets(client: net.Socket, target: net.Socket): void {
  client.pipe(target)
  target.pipe(client)
  target.on('close', () => {
    client.resume()
    if (client.writable) client.end()
  })
  client.on('close', () => {
    target.resume()
    if (target.writable) target.end()
  })
  target.on('error', () => client.destroy())
  client.on('error', () => target.destroy())
}
