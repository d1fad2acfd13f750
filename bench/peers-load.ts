/**
 * The peers benchmark's workloads, each run the same way against every peer: `proxyPort` null means
 * going direct to the origin. Every figure counts only answers that were checked (status, length, byte
 * count) and, for HTTP and tunnels, no more than the origin itself says it served.
 *
 * HTTP load and latency come from wrk: a C load generator costs far less CPU per request than a Node
 * one (autocannon), so on the one CPU it shares with the origin it is not what limits the faster
 * peers. Tunnel churn, bulk transfers and idle connections are sequences wrk cannot express, so they
 * are Node clients (tunnel churn is throughput.ts's own CONNECT load).
 */
import { execFile } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { BODY_BYTES } from './child-common.ts'
import { connectLoad, originServed, type LoadFigures } from './throughput.ts'

const WRK = '/usr/bin/wrk'
const WRK_SCRIPT = fileURLToPath(new URL('./peers-wrk.lua', import.meta.url))
const IO_TIMEOUT_MS = 10_000
/** Idle connections and tunnels are opened this many at a time. */
const OPEN_BATCH = 250

export interface Route {
  /** The proxy to go through; null goes straight to the origins. */
  proxyPort: number | null
  /** The HTTP origin (origin-server.ts). */
  originPort: number
  /** The byte source for bulk transfers (peers-data-origin.ts). */
  dataPort: number
}

export interface HttpFigures extends LoadFigures {
  p50Us: number
  p99Us: number
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Throws unless the origin served at least `completed` requests since `before`. */
async function checkServed(route: Route, before: number, completed: number, what: string): Promise<void> {
  const served = (await originServed(route.originPort)) - before
  if (served < completed)
    throw new Error(
      `${what}: the client counted ${completed} answers but the origin served only ${served}: ` +
        'answers did not come from the origin'
    )
}

/**
 * wrk for `seconds` (whole seconds, at least 1) over `connections` keep-alive connections, one wrk
 * thread. Non-2xx/3xx answers are errors, never counted; any at all means the peer answers wrongly.
 */
export async function wrkLoad(route: Route, seconds: number, connections: number): Promise<HttpFigures> {
  const origin = `127.0.0.1:${route.originPort}`
  const before = await originServed(route.originPort)
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      WRK,
      [
        '--threads',
        '1',
        '--connections',
        String(connections),
        '--duration',
        `${Math.max(1, Math.round(seconds))}s`,
        '--timeout',
        '10s',
        '--script',
        WRK_SCRIPT,
        `http://127.0.0.1:${route.proxyPort ?? route.originPort}`
      ],
      {
        env: {
          ...process.env,
          WRK_PATH: route.proxyPort === null ? '/' : `http://${origin}/`,
          WRK_HOST: origin
        },
        timeout: (seconds + 30) * 1000
      },
      (error, out, err) => (error ? reject(new Error(`wrk failed: ${error.message}\n${err}`)) : resolve(out))
    )
  )
  const line = stdout.split('\n').find((l) => l.startsWith('{"requests"'))
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`)
  const s = JSON.parse(line) as Record<'requests' | 'durationUs' | 'bytes' | 'p50Us' | 'p99Us', number> &
    Record<'connect' | 'read' | 'write' | 'status' | 'timeout', number>
  if (s.status > 0) throw new Error(`${s.status} of ${s.requests} HTTP answers were not 2xx/3xx: not proxied`)
  const completed = s.requests
  if (completed === 0) throw new Error('no HTTP request completed')
  // Each answer is the origin's head plus exactly BODY_BYTES; wrk's parser would count a short one as
  // a read error, but check the total anyway.
  if (s.bytes < completed * BODY_BYTES)
    throw new Error(`wrk read ${s.bytes} bytes for ${completed} answers of ${BODY_BYTES} bytes`)
  await checkServed(route, before, completed, 'HTTP')
  const errors: Record<string, number> = {}
  for (const kind of ['connect', 'read', 'write', 'timeout'] as const) if (s[kind] > 0) errors[kind] = s[kind]
  const elapsed = s.durationUs / 1e6
  return {
    completed,
    seconds: elapsed,
    perSecond: completed / elapsed,
    errors,
    p50Us: s.p50Us,
    p99Us: s.p99Us
  }
}

// ---------------------------------------------------------------------------------------------------
// Raw sockets

/** Connects, and through a proxy opens a CONNECT tunnel to `port`; resolves once bytes can flow. */
function openPath(proxyPort: number | null, port: number): Promise<{ socket: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort ?? port, '127.0.0.1')
    const timer = setTimeout(() => fail(new Error('no tunnel within 10 s')), IO_TIMEOUT_MS)
    const fail = (error: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      reject(error)
    }
    socket.once('error', fail)
    if (proxyPort === null) {
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.off('error', fail)
        resolve({ socket, rest: Buffer.alloc(0) })
      })
      return
    }
    socket.once('connect', () =>
      socket.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
    )
    let head = Buffer.alloc(0)
    socket.on('data', function onData(chunk: Buffer) {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return head.length > 16_384 ? fail(new Error('CONNECT reply too long')) : undefined
      socket.off('data', onData)
      const line = head.subarray(0, head.indexOf('\r\n')).toString('latin1')
      if (!/^HTTP\/1\.[01] 200/.test(line)) return fail(new Error(`CONNECT answered "${line}"`))
      clearTimeout(timer)
      socket.off('error', fail)
      resolve({ socket, rest: head.subarray(end + 4) })
    })
  })
}

/**
 * Tunnels opened per second: CONNECT, 200, one GET with `Connection: close`, the whole answer, close
 * (throughput.ts's connectLoad). Direct, the same without the CONNECT.
 */
export async function tunnelChurn(route: Route, seconds: number, workers: number): Promise<LoadFigures> {
  const before = await originServed(route.originPort)
  const figures =
    route.proxyPort === null
      ? await directChurn(route.originPort, seconds, workers)
      : await connectLoad(route.proxyPort, route.originPort, seconds, workers)
  await checkServed(route, before, figures.completed, 'tunnels')
  return figures
}

/** One request on a new connection straight to the origin, checked as connectLoad checks its own. */
function directOnce(originPort: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(originPort, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), IO_TIMEOUT_MS)
    socket.once('connect', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.once('end', () => {
      clearTimeout(timer)
      socket.destroy()
      const response = Buffer.concat(chunks)
      const bodyStart = response.indexOf('\r\n\r\n')
      if (!response.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 200'))
        reject(new Error('bad-response'))
      else if (bodyStart < 0 || response.length - bodyStart - 4 !== BODY_BYTES)
        reject(new Error('short-response'))
      else resolve()
    })
  })
}

async function directChurn(originPort: number, seconds: number, workers: number): Promise<LoadFigures> {
  const started = performance.now()
  const deadline = started + seconds * 1000
  const errors: Record<string, number> = {}
  let completed = 0
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      try {
        await directOnce(originPort)
        completed++
      } catch (error) {
        const kind = (error as NodeJS.ErrnoException).code ?? (error as Error).message
        errors[kind] = (errors[kind] ?? 0) + 1
        if (errors[kind] > 500) return
      }
    }
  }
  await Promise.all(Array.from({ length: workers }, worker))
  const elapsed = (performance.now() - started) / 1000
  if (completed === 0) throw new Error(`no direct request completed: ${JSON.stringify(errors)}`)
  return { completed, seconds: elapsed, perSecond: completed / elapsed, errors }
}

export interface BulkFigures {
  streams: number
  /** Bytes of the streams that arrived whole; a failed stream counts nothing. */
  bytes: number
  seconds: number
  mibPerSecond: number
  errors: Record<string, number>
}

/** One stream: asks the data origin for `bytes` and checks that exactly that many arrive before the close. */
async function oneStream(route: Route, bytes: number, timeoutMs: number): Promise<void> {
  const { socket, rest } = await openPath(route.proxyPort, route.dataPort)
  return new Promise((resolve, reject) => {
    let received = rest.length
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), timeoutMs)
    socket.on('data', (chunk: Buffer) => (received += chunk.length))
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.once('end', () => {
      clearTimeout(timer)
      socket.destroy()
      if (received === bytes) resolve()
      else reject(new Error(`short-stream: ${received} of ${bytes} bytes`))
    })
    socket.write(`${bytes}\n`)
  })
}

/** `streams` streams of `bytesPerStream` each at once; MiB/s over the whole, from first start to last end. */
export async function bulkTransfer(
  route: Route,
  streams: number,
  bytesPerStream: number
): Promise<BulkFigures> {
  // Slower than 5 MiB/s per stream is broken, not slow.
  const timeoutMs = 30_000 + (bytesPerStream / (5 * 2 ** 20)) * 1000
  const errors: Record<string, number> = {}
  let bytes = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: streams }, () =>
      oneStream(route, bytesPerStream, timeoutMs).then(
        () => void (bytes += bytesPerStream),
        (error: Error) => {
          const kind = (error as NodeJS.ErrnoException).code ?? error.message.split(':')[0]!
          errors[kind] = (errors[kind] ?? 0) + 1
        }
      )
    )
  )
  const seconds = (performance.now() - started) / 1000
  if (bytes === 0) throw new Error(`no bulk stream arrived whole: ${JSON.stringify(errors)}`)
  return { streams, bytes, seconds, mibPerSecond: bytes / 2 ** 20 / seconds, errors }
}

// ---------------------------------------------------------------------------------------------------
// Idle connections

/** Sends one keep-alive GET for the origin's 1 KiB answer and resolves once it has arrived whole. */
function keepAliveGet(route: Route): Promise<net.Socket> {
  const origin = `127.0.0.1:${route.originPort}`
  const target = route.proxyPort === null ? '/' : `http://${origin}/`
  return new Promise((resolve, reject) => {
    const socket = net.connect(route.proxyPort ?? route.originPort, '127.0.0.1')
    let response = Buffer.alloc(0)
    const timer = setTimeout(() => fail(new Error('timeout')), IO_TIMEOUT_MS)
    const fail = (error: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      reject(error)
    }
    socket.once('error', fail)
    socket.once('connect', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: ${origin}\r\n\r\n`))
    socket.on('data', function onData(chunk: Buffer) {
      response = Buffer.concat([response, chunk])
      const end = response.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = response.subarray(0, end).toString('latin1')
      if (!/^HTTP\/1\.1 200/.test(head)) return fail(new Error(`answered "${head.split('\r\n')[0]}"`))
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1])
      if (length !== BODY_BYTES) return fail(new Error(`content-length ${length}, not ${BODY_BYTES}`))
      if (response.length - end - 4 < BODY_BYTES) return
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('error', fail)
      socket.on('error', () => undefined)
      resolve(socket)
    })
  })
}

async function openMany<T extends net.Socket>(count: number, open: () => Promise<T>): Promise<T[]> {
  const sockets: T[] = []
  try {
    for (let opened = 0; opened < count; opened += OPEN_BATCH)
      sockets.push(...(await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, count - opened) }, open))))
  } catch (error) {
    for (const socket of sockets) socket.destroy()
    throw error
  }
  return sockets
}

export interface IdleKeepAliveFigures {
  connections: number
  idleSeconds: number
  /** Connections the peer had not closed after `idleSeconds` with no request. */
  survived: number
  /** The peer's RSS at the end of the idle time; null direct. */
  rssMiB: number | null
}

/**
 * `count` client connections, each with one answered keep-alive request, then idle: how many the peer
 * still holds open after `idleSeconds`, and its memory then.
 */
export async function idleKeepAlive(
  route: Route,
  count: number,
  idleSeconds: number,
  memory: (() => number) | null
): Promise<IdleKeepAliveFigures> {
  const sockets = await openMany(count, () => keepAliveGet(route))
  const open = new Set(sockets)
  for (const socket of sockets)
    socket.once('close', () => open.delete(socket)).once('end', () => open.delete(socket))
  try {
    await settle(idleSeconds * 1000)
    return { connections: count, idleSeconds, survived: open.size, rssMiB: memory?.() ?? null }
  } finally {
    for (const socket of sockets) socket.destroy()
  }
}

export interface IdleTunnelFigures {
  tunnels: number
  /** RSS with every tunnel open and settled. */
  openRssMiB: number
  /** RSS a few seconds after they all closed. */
  closedRssMiB: number
}

/** A CONNECT tunnel to an origin that says nothing, to be held open; resolves once answered 200. */
export async function openIdleTunnel(proxyPort: number, originPort: number): Promise<net.Socket> {
  const { socket } = await openPath(proxyPort, originPort)
  socket.on('error', () => undefined)
  return socket
}

/** `count` CONNECT tunnels to the origin held open: the peer's memory with them and after they close. */
export async function idleTunnels(
  proxyPort: number,
  originPort: number,
  count: number,
  settleMs: number,
  closedSettleMs: number,
  memory: () => number
): Promise<IdleTunnelFigures> {
  const tunnels = await openMany(count, () => openIdleTunnel(proxyPort, originPort))
  let openRssMiB: number
  try {
    await settle(settleMs)
    openRssMiB = memory()
  } finally {
    for (const socket of tunnels) socket.destroy()
  }
  await settle(closedSettleMs)
  return { tunnels: count, openRssMiB, closedRssMiB: memory() }
}

/** One GET through the peer, checked to the byte: the first thing asked of every peer in every round. */
export function probe(route: Route): Promise<void> {
  const origin = `127.0.0.1:${route.originPort}`
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port: route.proxyPort ?? route.originPort,
        path: route.proxyPort === null ? '/' : `http://${origin}/`,
        headers: { host: origin },
        agent: false,
        timeout: IO_TIMEOUT_MS
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          if (res.statusCode !== 200 || body.length !== BODY_BYTES || body.some((b) => b !== 0x78))
            reject(
              new Error(
                `probe answered ${res.statusCode} with ${body.length} bytes, not 200 with the origin's body`
              )
            )
          else resolve()
        })
      }
    )
    req.on('timeout', () => req.destroy(new Error('probe not answered within 10 s')))
    req.on('error', reject)
  })
}
