/**
 * CONNECT tunnels that go straight to the target.
 *
 * proxy-chain's own direct tunnel answers `200 Connection Established` only after connecting, but on
 * failure it just closes the client socket, so a browser learns nothing. Junction connects to the
 * target first, inside its request hook: a failure becomes a readable 502/504 (see errors.ts); success
 * hands proxy-chain a `customConnectServer`, which answers 200 and gives us the client socket to join
 * to the already-open target socket.
 */
import net from 'node:net'
import type { LookupFunction } from 'node:net'
import type { Server as HttpServer } from 'node:http'

export interface DirectConnectOptions {
  host: string
  port: number
  lookup?: LookupFunction | undefined
  timeoutMs: number
}

/** Opens a TCP connection to the target; rejects with an errno-style error (ETIMEDOUT on timeout). */
export function connectTarget(options: DirectConnectOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const host = options.host.startsWith('[') ? options.host.slice(1, -1) : options.host
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

/**
 * A stand-in for the server proxy-chain expects as `customConnectServer`: it only needs `emit`.
 * Closing either side ends the other, as proxy-chain's own tunnels do.
 */
export function joinWith(target: net.Socket): HttpServer {
  const join = (source: net.Socket): void => {
    source.pipe(target)
    target.pipe(source)
    target.on('close', () => {
      source.resume()
      if (source.writable) source.end()
    })
    source.on('close', () => {
      target.resume()
      if (target.writable) target.end()
    })
    target.on('error', () => source.destroy())
    source.on('error', () => target.destroy())
  }
  return {
    emit: (event: string, socket: net.Socket) => {
      if (event === 'connection') join(socket)
      return true
    }
  } as unknown as HttpServer
}
