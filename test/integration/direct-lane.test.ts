/**
 * The direct lane (main/engine/direct-lane.ts): bodiless plain-HTTP requests straight to their target
 * go over undici's client. What it keeps of the general path: the target's head as written (case,
 * order, repeated fields), a second try only for idempotent methods when a pooled connection is reset
 * before any answer, no pooled connection held past 4 s whatever the target's Keep-Alive says, the
 * target's request stopped when the client leaves, and a head undici refuses handed back unsent.
 */
import http from 'node:http'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { DirectLane } from '../../main/engine/direct-lane.ts'
import type { JunctionResponse } from '../../main/engine/account.ts'
import { startEngine } from './world.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function engine(): Promise<{ port: number }> {
  const started = await startEngine()
  cleanups.push(() => started.stop())
  return started
}

/**
 * A target speaking raw HTTP: `answer` gets each request head on a connection (its index there) and
 * writes what it likes; it sees every connection and request.
 */
async function rawTarget(answer: (socket: net.Socket, head: string, index: number) => void) {
  const seen = {
    connections: 0,
    requests: [] as string[],
    heads: [] as string[],
    open: new Set<net.Socket>()
  }
  const server = net.createServer((socket) => {
    seen.connections++
    seen.open.add(socket)
    socket.once('close', () => seen.open.delete(socket))
    socket.on('error', () => {})
    let buffered = ''
    let index = 0
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1')
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end)
        buffered = buffered.slice(end + 4)
        seen.requests.push(head.split('\r\n')[0]!)
        seen.heads.push(head)
        answer(socket, head, index++)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => {
    for (const socket of seen.open) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as net.AddressInfo).port, seen }
}

/** One request through the proxy on a raw socket; resolves with everything read until the body ends. */
function rawRequest(proxyPort: number, request: string, bodyEnd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1', () => socket.write(request))
    let text = ''
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      if (text.endsWith(bodyEnd)) {
        socket.destroy()
        resolve(text)
      }
    })
    socket.once('error', reject)
    socket.once('close', () => resolve(text))
  })
}

/** Requests through the proxy on one keep-alive client connection. */
function keepAliveClient(proxyPort: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  cleanups.push(() => agent.destroy())
  return (method: string, url: string): Promise<{ status: number; body: string; code: unknown }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxyPort, method, path: url, agent }, (res) => {
        let body = ''
        res.setEncoding('latin1')
        res.on('data', (chunk: string) => (body += chunk))
        res.once('end', () =>
          resolve({ status: res.statusCode!, body, code: res.headers['x-junction-error'] })
        )
      })
      req.once('error', reject)
      req.end()
    })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('the direct lane', () => {
  it("relays the target's head as written: status text, names' case, order, repeated fields", async () => {
    const target = await rawTarget((socket) =>
      socket.write(
        'HTTP/1.1 200 Fine Thanks\r\nX-MiXeD-Case: 1\r\nSet-Cookie: a=1\r\nX-Between: 2\r\n' +
          'set-cookie: b=2\r\nContent-Length: 4\r\n\r\nbody'
      )
    )
    const proxy = await engine()
    const authority = `127.0.0.1:${target.port}`
    const answer = await rawRequest(
      proxy.port,
      `GET http://${authority}/head HTTP/1.1\r\nHost: ${authority}\r\n\r\n`,
      'body'
    )
    expect(answer.startsWith('HTTP/1.1 200 Fine Thanks\r\n')).toBe(true)
    expect(answer).toContain('X-MiXeD-Case: 1\r\nSet-Cookie: a=1\r\nX-Between: 2\r\nset-cookie: b=2\r\n')
    expect(target.seen.requests).toEqual(['GET /head HTTP/1.1'])
  })

  it('sends a GET once more when its pooled connection is reset before any answer; never a POST', async () => {
    // Each connection answers its first request and resets on the second, as a target closing an
    // idle connection just as the proxy reuses it.
    const target = await rawTarget((socket, _, index) => {
      if (index === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst')
      else socket.resetAndDestroy()
    })
    const url = `http://127.0.0.1:${target.port}`
    const get = keepAliveClient((await engine()).port)
    expect(await get('GET', `${url}/a`)).toMatchObject({ status: 200, body: 'first' })
    expect(await get('GET', `${url}/b`)).toMatchObject({ status: 200, body: 'first' })
    // /b went out twice: on the pooled connection (reset), then on a new one.
    expect(target.seen.requests).toEqual(['GET /a HTTP/1.1', 'GET /b HTTP/1.1', 'GET /b HTTP/1.1'])
    expect(target.seen.connections).toBe(2)

    const post = keepAliveClient((await engine()).port)
    expect(await post('GET', `${url}/c`)).toMatchObject({ status: 200, body: 'first' })
    expect(await post('POST', `${url}/d`)).toMatchObject({ status: 502, code: 'target-reset' })
    expect(target.seen.requests.slice(3)).toEqual(['GET /c HTTP/1.1', 'POST /d HTTP/1.1'])
    expect(target.seen.connections).toBe(3)
  })

  it("closes a pooled connection after 4 s idle even when the target's Keep-Alive allows 120", async () => {
    const target = await rawTarget((socket) =>
      socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=120\r\nContent-Length: 2\r\n\r\nok')
    )
    const proxy = await engine()
    const request = keepAliveClient(proxy.port)
    expect(await request('GET', `http://127.0.0.1:${target.port}/`)).toMatchObject({ status: 200 })
    expect(target.seen.open.size).toBe(1)
    const since = Date.now()
    while (target.seen.open.size > 0 && Date.now() - since < 9000) await sleep(100)
    expect(target.seen.open.size).toBe(0)
    expect(Date.now() - since).toBeLessThan(6500)
  }, 15_000)

  it("stops the target's request when the client leaves before the answer", async () => {
    const target = await rawTarget(() => {}) // never answers
    const proxy = await engine()
    const authority = `127.0.0.1:${target.port}`
    const client = net.connect(proxy.port, '127.0.0.1', () =>
      client.write(`GET http://${authority}/slow HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
    )
    const since = Date.now()
    while (target.seen.requests.length === 0 && Date.now() - since < 5000) await sleep(20)
    expect(target.seen.open.size).toBe(1)
    client.destroy()
    while (target.seen.open.size > 0 && Date.now() - since < 5000) await sleep(20)
    expect(target.seen.open.size).toBe(0)
  })

  it('takes 128 requests to one target at once; more go the general way until some are answered', async () => {
    // undici writes `host:` in lower case, Node's client the `Host` it is given: the target can tell.
    const held: net.Socket[] = []
    const answer = (socket: net.Socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    const target = await rawTarget((socket) => {
      held.push(socket)
      if (held.length === 130) for (const waiting of held.splice(0)) answer(waiting)
    })
    const proxy = await engine()
    const agent = new http.Agent({ keepAlive: true, maxSockets: 200 })
    cleanups.push(() => agent.destroy())
    const get = (path: string) =>
      new Promise<number>((resolve, reject) =>
        http
          .get(
            { host: '127.0.0.1', port: proxy.port, path: `http://127.0.0.1:${target.port}${path}`, agent },
            (res) => {
              res.resume()
              res.once('end', () => resolve(res.statusCode!))
            }
          )
          .once('error', reject)
      )
    const statuses = await Promise.all(Array.from({ length: 130 }, (_, i) => get(`/${i}`)))
    expect(statuses.every((status) => status === 200)).toBe(true)
    const byLane = (heads: string[]) => heads.filter((head) => head.includes('\r\nhost: ')).length
    expect(byLane(target.seen.heads)).toBe(128)
    expect(target.seen.heads.filter((head) => head.includes('\r\nHost: '))).toHaveLength(2)
    // All answered: the lane takes the next one again.
    held.length = 0
    const next = target.seen.heads.length
    const last = get('/again')
    while (held.length === 0) await sleep(10)
    answer(held[0]!)
    expect(await last).toBe(200)
    expect(byLane(target.seen.heads.slice(next))).toBe(1)
  })

  it('hands back, unsent, a head undici will not send as it is', async () => {
    const target = await rawTarget(() => {})
    const lane = new DirectLane({
      connect: (host, port) =>
        new Promise((resolve) => {
          const socket = net.connect(port, host, () => resolve(socket))
        }),
      responseHeadersMs: 1000,
      idleMs: 1000,
      maxResponseHead: 65536
    })
    cleanups.push(() => lane.close())
    const call = { head: () => true, chunk: null, fail: () => {}, replayable: true }
    const origin = `http://127.0.0.1:${target.port}`
    const res = {} as JunctionResponse
    expect(lane.send(res, origin, '/', 'GET', ['Host', 'x', 'Expect', '100-continue'], call)).toBeNull()
    expect(lane.send(res, origin, '/', 'GET', ['Host', 'x', 'Upgrade', 'websocket'], call)).toBeNull()
    expect(lane.send(res, origin, '/', 'GET', ['Host', 'x'], call)).not.toBeNull()
    await sleep(200)
    expect(target.seen.requests).toEqual(['GET / HTTP/1.1'])
  })
})
