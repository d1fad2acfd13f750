/**
 * Pins the proxy-chain 3.0.1 behaviour main/engine/proxy-chain-adapter.ts relies on, so that an
 * upgrade that changes it fails here instead of silently changing what Junction's users see:
 * - `Server#onConnect(request, socket, head)` tunnels through the `upstreamProxyUrl` that
 *   `prepareRequestFunction` returns for that very request object;
 * - it answers an upstream failure with one `socket.end(text)` whose text is a raw response with one
 *   of its own statuses (594 for a refused connection);
 * - destroying the client's socket closes the socket to the upstream.
 */
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { Server } from 'proxy-chain'
import { closedPort } from '../harness/ports.ts'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

async function listening(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        ;(server as http.Server).closeAllConnections?.()
        server.close(() => resolve())
      })
  )
  return (server.address() as AddressInfo).port
}

/** A front server that hands every CONNECT to proxy-chain's onConnect, recording `socket.end` texts. */
async function front(upstreamUrl: string): Promise<{ port: number; ended: string[]; sockets: net.Socket[] }> {
  const seen = new WeakSet<http.IncomingMessage>()
  const chain = new Server({
    prepareRequestFunction: ({ request }) => {
      expect(seen.has(request)).toBe(true)
      return { upstreamProxyUrl: upstreamUrl }
    }
  })
  const ended: string[] = []
  const sockets: net.Socket[] = []
  const server = http.createServer()
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.add(req)
    sockets.push(socket)
    const end = socket.end.bind(socket) as (...args: unknown[]) => net.Socket
    socket.end = ((...args: unknown[]) => {
      if (typeof args[0] === 'string') ended.push(args[0])
      return end(...args)
    }) as typeof socket.end
    void chain.onConnect(req, socket as never, head)
  })
  return { port: await listening(server), ended, sockets }
}

function connect(port: number, target: string): Promise<{ socket: net.Socket; text: () => string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`)
      resolve({ socket, text: () => Buffer.concat(chunks).toString() })
    })
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', () => {})
  })
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('proxy-chain 3.0.1 behaviour Junction relies on', () => {
  it('exposes onConnect(request, socket, head) on Server', () => {
    expect(typeof Server.prototype.onConnect).toBe('function')
    expect(Server.prototype.onConnect.length).toBe(3)
  })

  it('answers a refused upstream with one socket.end of a raw 594 response', async () => {
    const dead = await closedPort()
    const { port, ended } = await front(`http://127.0.0.1:${dead}`)
    const client = await connect(port, '127.0.0.1:443')
    await until(() => ended.length > 0)
    expect(ended).toHaveLength(1)
    expect(ended[0]).toMatch(/^HTTP\/1\.1 594 ECONNREFUSED\r\n/)
    await until(() => client.text().startsWith('HTTP/1.1 594'))
    client.socket.destroy()
  })

  it('closes the upstream socket when the client socket is destroyed', async () => {
    const upstreamSide = new Set<net.Socket>()
    const silent = net.createServer((socket) => {
      upstreamSide.add(socket)
      socket.resume()
      socket.on('error', () => {})
      socket.once('close', () => upstreamSide.delete(socket))
    })
    const upstreamPort = await listening(silent)
    const { port, sockets } = await front(`http://127.0.0.1:${upstreamPort}`)
    await connect(port, '127.0.0.1:443')
    await until(() => upstreamSide.size === 1 && sockets.length === 1)
    sockets[0]!.destroy()
    await until(() => upstreamSide.size === 0)
  })
})
