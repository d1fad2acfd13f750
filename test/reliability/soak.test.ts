/**
 * Soak: headless Junction as a real process (`node main/serve.ts`) under 2,000 concurrent clients for
 * several rounds, with idle gaps between them. The clients churn plain HTTP (keep-alive and not) and
 * CONNECT tunnels, direct and through real upstreams (Debian's squid with basic auth, microsocks with
 * a username and password), and requests through two failing upstreams (one refuses connections, one
 * accepts and never answers).
 *
 * Asserted: every reply is the expected one (200 with the origin's body; 502/504 with the
 * `X-Junction-Error` code for the failing upstreams), and after every round, within 60 s, the
 * engine's open file descriptors are back to where they were before any load and its resident memory
 * is within 50 % of it; the memory each round leaves behind does not grow from round to round.
 *
 * About 2 minutes; `JUNCTION_SOAK_SECONDS` sets the seconds of load (default 90, in rounds of 30 s).
 * The load generator is plain `http` agents and raw sockets so that it stays cheaper than the engine it
 * drives on a 2-core machine; each round prints what the engine and this process spent.
 */
import { promises as fs, readFileSync, readdirSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ENTRY, serve, type Running } from '../harness/headless-process.ts'
import { startMicrosocks } from '../harness/microsocks.ts'
import { startSquid, type Upstream } from '../harness/squid.ts'

const LOAD_SECONDS = Number(process.env.JUNCTION_SOAK_SECONDS) || 90
const ROUND_SECONDS = Math.min(30, LOAD_SECONDS)
const ROUNDS = Math.max(1, Math.round(LOAD_SECONDS / ROUND_SECONDS))
/** How long after a round the engine has to give back its descriptors and memory. */
const SETTLE_LIMIT_MS = 60_000
/**
 * Memory after a round: at most this much above the engine's RSS before any load. Under load RSS
 * reaches about 280–315 MiB with the serve script's Node flags (440 without them, the young generation
 * uncapped); once given back (the collection, then glibc's free pages: free-pages.ts) it settled
 * 20–32 MiB above a start that is itself measured after start-up's shrinking collection (V8's code
 * and old-space high-water mark); 45–55 MiB above before glibc's pages were given back too, which
 * free-pages.test.ts pins. A process that kept its load-time heap stays 200 MiB above.
 */
const RSS_RETURN_MIB = 64
/**
 * What later rounds may leave above the first round's settled RSS. Allocator and heap layout move it
 * (measured: −1 to +13 MiB over three rounds); a leak of 1 KiB per request exceeds it after 24,000
 * requests, which two rounds make even on a busy machine (25,000–75,000 replies a round).
 */
const RSS_FLAT_MIB = 24
/**
 * A request with no reply for this long counts as an error (and bounds every client loop). Well above
 * the engine's own limits (SILENT_LIMIT_SECONDS): when 2,000 clients connect at once, the engine's
 * request log showed requests arriving up to 25–30 s after their client connected (new connections
 * only; requests on open keep-alive connections waited at most 2–5 s), and the client's clock runs
 * from the connect. At 60 s, the silent route's requests were now and then given up here just before
 * Junction's 504.
 */
const REQUEST_TIMEOUT_MS = 120_000
/**
 * How long the engine waits for the silent upstream (responseHeadersSeconds). Not much less: by
 * Little's law 2,000 clients at 300–1,500 replies/s (a busy shared 2-core machine) wait 1.5–7 s per
 * reply on average, and a 10 s limit turned slow healthy replies into 504s.
 */
const SILENT_LIMIT_SECONDS = 30

const USER = 'soak'
const PASSWORD = 'soak-password-1'
const BODY = Buffer.alloc(1024, 'j')
const BODY_TEXT = BODY.toString('latin1')

type Route = 'direct' | 'squid' | 'socks' | 'refused' | 'silent'
type Kind = 'keep-alive' | 'close' | 'tunnel'

/** Clients per route and kind: 2,000 in all, most of them direct as most of a user's traffic is. */
const MIX: Array<{ route: Route; kind: Kind; clients: number }> = [
  { route: 'direct', kind: 'keep-alive', clients: 600 },
  { route: 'direct', kind: 'close', clients: 250 },
  { route: 'direct', kind: 'tunnel', clients: 500 },
  { route: 'squid', kind: 'keep-alive', clients: 150 },
  { route: 'squid', kind: 'tunnel', clients: 100 },
  { route: 'socks', kind: 'keep-alive', clients: 100 },
  { route: 'socks', kind: 'tunnel', clients: 100 },
  { route: 'refused', kind: 'keep-alive', clients: 75 },
  { route: 'refused', kind: 'tunnel', clients: 75 },
  { route: 'silent', kind: 'keep-alive', clients: 50 }
]

/** The failing routes' expected answers; the others answer 200 with BODY. */
const FAILURE: Partial<Record<Route, { status: number; code: string }>> = {
  refused: { status: 502, code: 'upstream-refused' },
  silent: { status: 504, code: 'upstream-timeout' }
}

const servers: net.Server[] = []
const upstreams: Upstream[] = []
const originPorts = {} as Record<Route, number>
let engine: Running | null = null
let enginePid = 0
let proxyPort = 0
let dataDir = ''

function listen(server: net.Server): Promise<number> {
  servers.push(server)
  // 2,000 clients reconnecting at once overflow Node's default accept queue (511).
  return new Promise((resolve) =>
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () =>
      resolve((server.address() as net.AddressInfo).port)
    )
  )
}

/** The origin: every request gets BODY. One server per route, so that rules can route by port. */
function startOrigin(): Promise<number> {
  const server = http.createServer((req, res) => {
    req.resume()
    req.once('end', () => {
      res.writeHead(200, { 'Content-Length': BODY.length, 'Content-Type': 'text/plain' })
      res.end(BODY)
    })
  })
  // Longer than squid's idle timeout for connections to servers (1 min): otherwise squid now and then
  // reuses a connection the origin is closing and answers that request with its own 502.
  server.keepAliveTimeout = 120_000
  return listen(server)
}

/**
 * A port nothing listens on, below Linux's ephemeral range (32768–60999 here). A closed port inside
 * that range (what freePort gives) can be picked as the source port of a connect to itself, and TCP's
 * simultaneous open then connects the socket to itself instead of refusing it; with thousands of
 * connects a second to that port, the refused route would not stay refused. (Not observed here: a
 * precaution.)
 */
async function closedPort(): Promise<number> {
  for (let port = 20_000 + Math.floor(Math.random() * 10_000); ; port = 20_000 + ((port + 1) % 10_000)) {
    const probe = net.createServer()
    const free = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false))
      probe.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (free) {
      await new Promise((resolve) => probe.close(resolve))
      return port
    }
  }
}

/** An upstream that accepts connections and never answers. */
function startSilentUpstream(): Promise<number> {
  return listen(
    net.createServer((socket) => {
      socket.on('error', () => socket.destroy())
      socket.resume()
    })
  )
}

const engineFds = (): number => readdirSync(`/proc/${enginePid}/fd`).length
const engineRssMiB = (): number =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${enginePid}/status`, 'utf8'))![1]) / 1024
/** The engine's CPU time (user + system) in seconds, from /proc/<pid>/stat (fields 14 and 15). */
function engineCpuSeconds(): number {
  const stat = readFileSync(`/proc/${enginePid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const ownCpuSeconds = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** What one round saw: replies by route and kind, and anything unexpected with a count per kind of failure. */
class Tally {
  ok = 0
  readonly unexpected = new Map<string, number>()
  /** The slowest reply per route and kind (ms), to tell a stuck route from a busy machine. */
  readonly slowest = new Map<string, number>()
  fail(what: string): void {
    this.unexpected.set(what, (this.unexpected.get(what) ?? 0) + 1)
  }
  took(what: string, since: number): void {
    const ms = Date.now() - since
    if (ms > (this.slowest.get(what) ?? 0)) this.slowest.set(what, ms)
  }
}

/** One plain-HTTP request through the proxy; checks the reply against the route's expectation. */
function httpRequest(route: Route, agent: http.Agent, close: boolean, tally: Tally): Promise<void> {
  const authority = `127.0.0.1:${originPorts[route]}`
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: proxyPort,
        path: `http://${authority}/soak`,
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { Host: authority, ...(close ? { Connection: 'close' } : {}) }
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.once('end', () => {
          const expected = FAILURE[route]
          const body = Buffer.concat(chunks)
          if (expected) {
            if (res.statusCode === expected.status && res.headers['x-junction-error'] === expected.code)
              tally.ok++
            else tally.fail(`${route} http: ${res.statusCode} ${res.headers['x-junction-error']}`)
          } else if (res.statusCode === 200 && body.equals(BODY)) {
            // Squid marks what it forwarded; a reply without the mark went another way.
            if (route === 'squid' && !String(res.headers.via).includes('squid'))
              tally.fail('squid http: no Via from squid')
            else tally.ok++
          } else
            tally.fail(
              `${route} http: ${res.statusCode} ${res.headers['x-junction-error'] ?? res.headers['x-squid-error']}`
            )
          resolve()
        })
        res.once('error', (error) => {
          tally.fail(`${route} http response: ${(error as NodeJS.ErrnoException).code ?? error.message}`)
          resolve()
        })
      }
    )
    req.once('timeout', () => req.destroy(new Error('no reply in time')))
    req.once('error', (error) => {
      tally.fail(`${route} http: ${(error as NodeJS.ErrnoException).code ?? error.message}`)
      resolve()
    })
    req.end()
  })
}

/**
 * One tunnel: CONNECT, then (when it opened) a request inside it answered with `Connection: close`,
 * so the origin ends the tunnel; for the failing routes, the CONNECT's own error reply.
 */
function tunnel(route: Route, tally: Tally): Promise<void> {
  const authority = `127.0.0.1:${originPorts[route]}`
  return new Promise((resolve) => {
    const socket = net.connect(proxyPort, '127.0.0.1')
    let received = ''
    let opened = false
    let settled = false
    // For the failing routes: the verdict on the CONNECT's error reply, given once Junction closes.
    let refusal: string | null | undefined
    const finish = (failure: string | null): void => {
      if (settled) return
      settled = true
      if (failure) tally.fail(`${route} tunnel: ${failure}`)
      else tally.ok++
      socket.destroy()
    }
    socket.setEncoding('latin1')
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => finish(`no reply in time (${received.length} bytes)`))
    socket.on('data', (data: string) => {
      received += data
      if (opened || refusal !== undefined) return
      const headEnd = received.indexOf('\r\n\r\n')
      if (headEnd < 0) return
      const head = received.slice(0, headEnd)
      const expected = FAILURE[route]
      if (expected) {
        const status = Number(head.slice(9, 12))
        const code = /^x-junction-error: *(\S+)/im.exec(head)?.[1]
        // Junction closes a refused tunnel itself (and is expected to): wait for that, as a client that
        // closed first would leave its own side of each of thousands of refusals in TIME_WAIT.
        refusal = status === expected.status && code === expected.code ? null : `${status} ${code}`
        return
      }
      if (!head.startsWith('HTTP/1.1 200')) return finish(head.split('\r\n')[0]!)
      opened = true
      received = received.slice(headEnd + 4)
      socket.write(`GET /soak HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)
    })
    socket.once('end', () => {
      if (refusal !== undefined) return finish(refusal)
      if (!opened) return finish(`closed before the CONNECT reply (${received.length} bytes)`)
      const ok = received.startsWith('HTTP/1.1 200') && received.endsWith(`\r\n\r\n${BODY_TEXT}`)
      finish(ok ? null : `inner reply: ${received.split('\r\n')[0]}`)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message))
    socket.once('close', () => {
      finish(opened ? 'closed without the inner reply' : 'closed before the CONNECT reply')
      resolve()
    })
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
  })
}

/**
 * Every client repeats its request until `seconds` are up, starting none that could not end by then
 * (the silent upstream's take SILENT_LIMIT_SECONDS) but at least one; resolves when the last reply is in.
 */
async function loadRound(seconds: number, tally: Tally): Promise<void> {
  const end = Date.now() + seconds * 1000
  const agents: http.Agent[] = []
  const clients: Promise<void>[] = []
  for (const { route, kind, clients: count } of MIX) {
    const agent = new http.Agent({ keepAlive: kind === 'keep-alive', maxSockets: count })
    agents.push(agent)
    const once = async (): Promise<void> => {
      const since = Date.now()
      await (kind === 'tunnel' ? tunnel(route, tally) : httpRequest(route, agent, kind === 'close', tally))
      tally.took(`${route} ${kind}`, since)
    }
    const until = end - (FAILURE[route]?.status === 504 ? SILENT_LIMIT_SECONDS * 1000 : 0)
    for (let i = 0; i < count; i++) {
      clients.push(
        (async () => {
          do await once()
          while (Date.now() < until)
        })()
      )
    }
  }
  await Promise.all(clients)
  for (const agent of agents) agent.destroy()
}

/** The engine's log lines saying it gave memory back once traffic paused (memory-return.ts). */
const memoryReturnLines = (): string[] => engine!.lines.filter((line) => /memory given back/.test(line))
const memoryReturns = (): number => memoryReturnLines().length

/**
 * How long after a round the engine may go without giving memory back: it does once it has been quiet
 * for 10 s (memory-return.ts), which was 9–15 s after the load here, or not at all when the heap did
 * not grow enough to be worth it.
 */
const RETURN_WAIT_MS = 20_000

/**
 * Polls until the engine's descriptors are back and it has given memory back since the load ended (or
 * has had RETURN_WAIT_MS to do so), or the limit passes; returns what it saw. So every round's RSS is
 * read at the same point: not before the collection, and not after one the engine ran while slow
 * clients of the round still kept it busy now and then (then it gives back again once quiet).
 */
async function settle(
  baselineFds: number,
  rssLimitMiB: number,
  returnsAtEnd: number
): Promise<{ ms: number; fds: number; rssMiB: number }> {
  const started = Date.now()
  for (;;) {
    const fds = engineFds()
    const rssMiB = engineRssMiB()
    const ms = Date.now() - started
    const returned = memoryReturns() > returnsAtEnd || ms >= RETURN_WAIT_MS
    if ((fds <= baselineFds && rssMiB <= rssLimitMiB && returned) || ms >= SETTLE_LIMIT_MS)
      return { ms, fds, rssMiB }
    await sleep(1000)
  }
}

beforeAll(async () => {
  for (const route of ['direct', 'squid', 'socks'] as const) originPorts[route] = await startOrigin()
  // Nothing listens here: the refused route's upstream and its (never reached) target.
  originPorts.refused = await closedPort()
  const refusedUpstreamPort = await closedPort()
  originPorts.silent = await startOrigin()
  const silentUpstreamPort = await startSilentUpstream()
  const squid = await startSquid({ username: USER, password: PASSWORD })
  upstreams.push(squid)
  const socks = await startMicrosocks({ username: USER, password: PASSWORD })
  upstreams.push(socks)

  const upstream = (id: string, scheme: string, port: number, auth: boolean) => ({
    id,
    name: id,
    scheme,
    host: '127.0.0.1',
    port,
    ...(auth ? { username: USER, password: PASSWORD } : {})
  })
  const byPort = (route: Route, upstreamId: string) => ({
    id: route,
    enabled: true,
    matchers: [{ type: 'port', value: String(originPorts[route]) }],
    action: { type: 'upstream', upstreamId }
  })
  const profile = {
    id: 'soak',
    name: 'Soak',
    upstreams: [
      upstream('squid', 'http', squid.port, true),
      upstream('socks', 'socks5', socks.port, true),
      upstream('refused', 'http', refusedUpstreamPort, false),
      upstream('silent', 'http', silentUpstreamPort, false)
    ],
    rules: [
      byPort('squid', 'squid'),
      byPort('socks', 'socks'),
      byPort('refused', 'refused'),
      byPort('silent', 'silent')
    ],
    defaultAction: { type: 'direct' }
  }
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-soak-'))
  await fs.writeFile(path.join(dataDir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [profile] }))
  await fs.writeFile(
    path.join(dataDir, 'settings.json'),
    JSON.stringify({
      version: 1,
      timeouts: {
        connectSeconds: 15,
        responseHeadersSeconds: SILENT_LIMIT_SECONDS,
        idleTunnelSeconds: 900,
        idleClientSeconds: 120
      }
    })
  )
  engine = serve(
    ['--port', '0', '--data-dir', dataDir, '--profile', 'soak', '--system-proxy', 'off', '--no-dashboard'],
    ENTRY
  )
  proxyPort = Number((await engine.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/, 20_000))[1])
  enginePid = engine.child.pid!
})

afterAll(async () => {
  if (engine && engine.child.exitCode === null) {
    engine.child.kill('SIGTERM')
    const exited = await Promise.race([engine.exited.then(() => true), sleep(10_000).then(() => false)])
    if (!exited) {
      engine.child.kill('SIGKILL')
      await engine.exited
    }
  }
  await Promise.all(upstreams.map((upstream) => upstream.close()))
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true })
})

describe('soak', () => {
  it(
    `${ROUNDS} rounds of 2,000 clients: every reply expected, descriptors and memory back after each`,
    async () => {
      // The engine's figures at rest, once start-up allocations have settled.
      await sleep(3000)
      const startFds = engineFds()
      const startRssMiB = engineRssMiB()
      const rssLimitMiB = startRssMiB + RSS_RETURN_MIB
      console.log(
        `[soak] engine (port ${proxyPort}) at rest: ${startFds} fds, RSS ${startRssMiB.toFixed(1)} MiB; ` +
          `origins on ${Object.entries(originPorts)
            .map(([route, port]) => `${route} ${port}`)
            .join(', ')}`
      )
      const settled: number[] = []
      for (let round = 1; round <= ROUNDS; round++) {
        const tally = new Tally()
        const cpu0 = { engine: engineCpuSeconds(), own: ownCpuSeconds(), at: Date.now() }
        await loadRound(ROUND_SECONDS, tally)
        const seconds = (Date.now() - cpu0.at) / 1000
        const peakFds = engineFds()
        const loadedRssMiB = engineRssMiB()
        const engineCpu = (engineCpuSeconds() - cpu0.engine) / seconds
        const ownCpu = (ownCpuSeconds() - cpu0.own) / seconds
        const back = await settle(startFds, rssLimitMiB, memoryReturns())
        settled.push(back.rssMiB)
        console.log(
          `[soak] round ${round}: ${tally.ok} replies in ${seconds.toFixed(1)} s (${Math.round(tally.ok / seconds)}/s), ` +
            `engine CPU ${(engineCpu * 100).toFixed(0)} %, load generator ${(ownCpu * 100).toFixed(0)} %; ` +
            `at the end ${peakFds} fds, RSS ${loadedRssMiB.toFixed(1)} MiB; ` +
            `after ${(back.ms / 1000).toFixed(0)} s ${back.fds} fds, RSS ${back.rssMiB.toFixed(1)} MiB ` +
            `(${memoryReturnLines().at(-1) ?? 'no memory given back'}); slowest (s): ` +
            [...tally.slowest].map(([what, ms]) => `${what} ${(ms / 1000).toFixed(1)}`).join(', ')
        )
        expect(Object.fromEntries(tally.unexpected), `unexpected replies in round ${round}`).toEqual({})
        expect(tally.ok).toBeGreaterThan(0)
        expect(
          back.fds,
          `engine descriptors ${SETTLE_LIMIT_MS / 1000} s after round ${round}`
        ).toBeLessThanOrEqual(startFds)
        expect(
          back.rssMiB,
          `engine RSS ${SETTLE_LIMIT_MS / 1000} s after round ${round}`
        ).toBeLessThanOrEqual(rssLimitMiB)
      }
      expect(Math.max(...settled) - settled[0]!, 'RSS growth across rounds (MiB)').toBeLessThanOrEqual(
        RSS_FLAT_MIB
      )
    },
    ROUNDS * (ROUND_SECONDS * 1000 + REQUEST_TIMEOUT_MS + SETTLE_LIMIT_MS) + 30_000
  )
})
