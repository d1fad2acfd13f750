/**
 * The peers benchmark must never count a wrong answer as throughput: these fake peers answer wrongly
 * in the ways a broken proxy could (a body that is not the origin's, an error status, a truncated
 * stream, an answer the origin never served, idle connections closed), and the instrument has to say
 * so. Real proxy-chain and the real origins show the same checks pass for a correct peer.
 */
import http from 'node:http'
import net from 'node:net'
import { Server } from 'proxy-chain'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bulkTransfer,
  idleKeepAlive,
  probe,
  tunnelChurn,
  wrkLoad,
  type Route
} from '../../bench/peers-load.ts'
import { startChild, type Child } from '../../bench/throughput.ts'

let origin: Child
let data: Child
let proxy: Server
const fakes: (http.Server | net.Server)[] = []

function listen<T extends http.Server | net.Server>(server: T): Promise<number> {
  fakes.push(server)
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port))
  )
}

const route = (proxyPort: number | null): Route => ({
  proxyPort,
  originPort: origin.port,
  dataPort: data.port
})

beforeAll(async () => {
  origin = await startChild('./origin-server.ts', [], 'origin')
  data = await startChild('./peers-data-origin.ts', [], 'data origin')
  proxy = new Server({ host: '127.0.0.1', port: 0 })
  await proxy.listen()
})

afterAll(async () => {
  await proxy.close(true)
  for (const fake of fakes) {
    if (fake instanceof http.Server) fake.closeAllConnections()
    fake.close()
  }
  await Promise.all([origin.stop(), data.stop()])
})

describe('peers benchmark instrument', () => {
  it('passes a real proxy on every check', async () => {
    await probe(route(proxy.port))
    const bulk = await bulkTransfer(route(proxy.port), 2, 4 * 2 ** 20)
    expect(bulk.bytes).toBe(8 * 2 ** 20)
    expect(bulk.errors).toEqual({})
    const churn = await tunnelChurn(route(proxy.port), 0.5, 4)
    expect(churn.completed).toBeGreaterThan(0)
    const http = await wrkLoad(route(proxy.port), 1, 4)
    expect(http.completed).toBeGreaterThan(0)
  })

  it('rejects a peer whose answer is not the origin’s body', async () => {
    const port = await listen(http.createServer((_req, res) => res.end(Buffer.alloc(1024, 'y'))))
    await expect(probe(route(port))).rejects.toThrow(/not 200 with the origin's body/)
  })

  it('never counts error statuses as HTTP throughput', async () => {
    const port = await listen(
      http.createServer((_req, res) => {
        res.writeHead(403, { 'content-length': 1024 })
        res.end(Buffer.alloc(1024, 'x'))
      })
    )
    await expect(wrkLoad(route(port), 1, 2)).rejects.toThrow(/were not 2xx\/3xx/)
  })

  it('counts no bytes of a truncated tunnel stream', async () => {
    const port = await listen(
      net.createServer((socket) => {
        socket.on('error', () => undefined)
        socket.once('data', () => {
          socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
          socket.once('data', () => socket.end(Buffer.alloc(1000, 'b')))
        })
      })
    )
    await expect(bulkTransfer(route(port), 2, 2 ** 20)).rejects.toThrow(/no bulk stream arrived whole/)
  })

  it('rejects tunnels answered by the proxy instead of the origin', async () => {
    const forged = `HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n${'x'.repeat(1024)}`
    const port = await listen(
      net.createServer((socket) => {
        socket.on('error', () => undefined)
        socket.once('data', () => {
          socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
          socket.once('data', () => socket.end(forged))
        })
      })
    )
    await expect(tunnelChurn(route(port), 0.3, 2)).rejects.toThrow(/did not come from the origin/)
  })

  it('counts idle keep-alive connections the peer closes', async () => {
    const closing = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': 1024 })
      res.end(Buffer.alloc(1024, 'x'))
    })
    // Node adds keepAliveTimeoutBuffer (1 s) to this before it closes an idle connection.
    closing.keepAliveTimeout = 100
    const port = await listen(closing)
    const closed = await idleKeepAlive(route(port), 20, 2.5, null)
    expect(closed.survived).toBe(0)
    const kept = await idleKeepAlive(route(proxy.port), 20, 1, null)
    expect(kept.survived).toBe(20)
  })
})
