/**
 * The proxy engine: a proxy-chain `Server` whose one request hook routes every request by the active
 * profile's rules. Plain Node, no Electron: the desktop app, the headless mode and the tests all run
 * this same class.
 */
import { EventEmitter } from 'node:events'
import { createServer, ServerResponse, type IncomingMessage } from 'node:http'
import type { LookupFunction, Socket } from 'node:net'
import { timingSafeEqual } from 'node:crypto'
import https from 'node:https'
import tls from 'node:tls'
import {
  RequestError,
  Server,
  type PrepareRequestFunctionOpts,
  type PrepareRequestFunctionResult
} from 'proxy-chain'
import { DIRECT_PROFILE, type EngineState, type Profile, type Upstream } from '../../common/model.ts'

import { compileProfile, type CompiledRules, type Match } from '../rules/compile.ts'
import { connectTarget, joinSockets } from './direct-tunnel.ts'
import {
  ERROR_HEADER,
  parseRawStatus,
  rawErrorResponse,
  replyForProxyChainStatus,
  replyForSocketError,
  type ErrorReply,
  type FailureContext
} from './errors.ts'
import { stripHopByHop } from './hop-by-hop.ts'
import { diagnoseSocks } from './socks-diagnosis.ts'
import { describeUpstream, upstreamUrl } from './upstream.ts'
import type { ConnectionRecord, Reply, TrafficStats } from '../stats/traffic-stats.ts'
import { servePac, type PacPublisher } from '../sysproxy/pac.ts'

export type { EngineState }

export interface ProxyAuth {
  username: string
  password: string
}

export interface EngineOptions {
  /** Listen address; default 127.0.0.1. Any other address requires `auth`. */
  host?: string
  /** Listen port; default 8899, 0 picks a free port. */
  port?: number
  profile?: Profile
  /** Credentials clients must send (Proxy-Authorization: Basic); required off loopback. */
  auth?: ProxyAuth | null
  /** Name resolution for targets and upstream hosts; tests inject one to simulate unknown hosts. */
  lookup?: LookupFunction
  /** How long a direct CONNECT may take to reach its target before the client gets a 504. */
  connectTimeoutMs?: number
  /** Traffic accounting; off when absent. */
  stats?: TrafficStats | null
  /** The PAC file served at /proxy.pac; none when absent. */
  pac?: PacPublisher | null
}

interface EngineEvents {
  state: [EngineState]
  /** Unexpected failures that proxy-chain turned into a 500; the process keeps running. */
  failure: [Error]
}

interface UpstreamRoute {
  upstream: Upstream
  url: string
  description: string
  /** For `https` upstreams with their own CA: trusts it in addition to the system roots. */
  httpsAgent: https.Agent | undefined
}

interface Route {
  profile: Profile
  rules: CompiledRules
  upstreams: Map<string, UpstreamRoute>
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
// Per-request and per-socket state rides on the objects themselves: a WeakMap entry per request
// showed up as extra garbage-collection work under load.
const FAILURE_CONTEXT = Symbol('junction.failureContext')
const END_GUARDED = Symbol('junction.endGuarded')
const ROUTED = Symbol('junction.routed')
/** The connection record and the request's number on it, for requestFinished. */
const TRACKED = Symbol('junction.tracked')
const TRACKED_SEQ = Symbol('junction.trackedSeq')
/** The last raw reply written to a socket before any tunnel: what the client was told. */
const RAW_REPLY = Symbol('junction.rawReply')

/** proxy-chain's `connectionClosed` event: the connection's counters as it closed. */
interface ConnectionClosedEvent {
  connectionId: number
  stats?: { srcRxBytes: number; srcTxBytes: number }
}

type ConnectListener = (request: IncomingMessage, socket: Socket, head: Buffer) => void
type RequestListener = (request: IncomingMessage, response: ServerResponse) => void

interface Routed {
  route: Route
  match: Match
}

type RoutedRequestMessage = IncomingMessage & {
  [ROUTED]?: Routed
  [FAILURE_CONTEXT]?: FailureContext
  [TRACKED]?: ConnectionRecord
  [TRACKED_SEQ]?: number
}

type GuardedSocket = Socket & {
  [FAILURE_CONTEXT]?: FailureContext
  [END_GUARDED]?: true
  [RAW_REPLY]?: Reply
  proxyChainId?: number
}

function buildRoute(profile: Profile): Route {
  const upstreams = new Map<string, UpstreamRoute>(
    profile.upstreams.map((u) => [
      u.id,
      {
        upstream: u,
        url: upstreamUrl(u),
        description: describeUpstream(u),
        httpsAgent:
          u.scheme === 'https' && u.ca ? new https.Agent({ ca: [...tls.rootCertificates, u.ca] }) : undefined
      }
    ])
  )
  return { profile, rules: compileProfile(profile), upstreams }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

export class ProxyEngine extends EventEmitter<EngineEvents> {
  private readonly host: string
  private readonly requestedPort: number
  private readonly auth: ProxyAuth | null
  private readonly lookup: LookupFunction | undefined
  private readonly connectTimeoutMs: number
  private readonly stats: TrafficStats | null
  private readonly pac: PacPublisher | null
  private routing: Route
  private server: Server | null = null
  private current: EngineState = { status: 'stopped' }

  constructor(options: EngineOptions = {}) {
    super()
    this.host = options.host ?? '127.0.0.1'
    this.requestedPort = options.port ?? 8899
    this.auth = options.auth ?? null
    this.lookup = options.lookup
    this.connectTimeoutMs = options.connectTimeoutMs ?? 15_000
    this.stats = options.stats ?? null
    this.pac = options.pac ?? null
    this.routing = buildRoute(options.profile ?? DIRECT_PROFILE)
  }

  get state(): EngineState {
    return this.current
  }

  get profile(): Profile {
    return this.routing.profile
  }

  /** The bound port once running (useful with port 0). */
  get port(): number | null {
    return this.current.status === 'running' ? this.current.port : null
  }

  async start(): Promise<void> {
    if (this.server) throw new Error('The proxy engine is already running')
    if (!LOOPBACK.has(this.host) && !this.auth)
      throw new Error(
        `Refusing to listen on ${this.host} without a proxy username and password: anyone on the network could use it`
      )
    this.setState({ status: 'starting' })
    const server = new Server({
      host: this.host,
      port: this.requestedPort,
      // Names Junction in the Server header of its own replies and in the 407 challenge.
      authRealm: 'Junction',
      prepareRequestFunction: (opts) => this.prepare(opts)
    })
    server.on('requestFailed', ({ error }: { error: Error }) => this.emit('failure', error))
    // proxy-chain's HTTP server, rebuilt with Junction's response class (see JunctionResponse); its
    // handlers move over unchanged.
    const http = createServer({ ServerResponse: JunctionResponse })
    for (const event of ['clientError', 'connection'] as const) {
      // Node's own connection handler is on both servers already; only proxy-chain's move.
      const own = new Set(http.listeners(event))
      for (const listener of server.server.listeners(event))
        if (!own.has(listener)) http.on(event, listener as () => void)
    }
    const chainOnRequest = server.server.listeners('request')[0] as RequestListener
    const chainOnConnect = server.server.listeners('connect')[0] as ConnectListener
    // Node's typings cannot relate a response subclass with fields of its own to the generic base.
    server.server = http as unknown as typeof server.server
    // Requests reach Junction before proxy-chain: origin-form requests (`GET /proxy.pac`) are answered
    // here, and proxied ones are counted.
    const stats = this.stats
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/')) return this.onOriginForm(req, res)
      ;(res as JunctionResponse).stats = stats
      chainOnRequest(req, res)
    })
    // proxy-chain reads every connection's final counters as it closes; statistics take them from there.
    if (stats)
      server.on('connectionClosed', ({ connectionId, stats: counts }: ConnectionClosedEvent) => {
        if (counts) stats.connectionClosed(connectionId, counts.srcRxBytes, counts.srcTxBytes, tunnelReply)
      })
    // CONNECT requests reach Junction first: direct tunnels are served here (see openDirectTunnel),
    // everything else goes on to proxy-chain.
    http.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.onConnect(req, socket, head, chainOnConnect)
    )
    try {
      await server.listen()
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
          ? `port ${this.requestedPort} on ${this.host} is already in use by another program`
          : (error as Error).message
      this.setState({ status: 'failed', error: `Cannot listen: ${reason}` })
      throw new Error(`Cannot listen: ${reason}`, { cause: error })
    }
    this.server = server
    this.setRunning()
  }

  /** Stops listening and closes every open connection. */
  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = null
    this.setState({ status: 'stopping' })
    this.stats?.closingAll('proxy stopped')
    await server.close(true)
    this.setState({ status: 'stopped' })
  }

  /**
   * Switches routing to `profile` for every request that starts from now on, without a restart.
   * Requests and tunnels already under way keep the route they were given.
   */
  applyProfile(profile: Profile): void {
    this.routing = buildRoute(profile)
    if (this.server) this.setRunning()
  }

  private setRunning(): void {
    const { id, name } = this.routing.profile
    this.setState({
      status: 'running',
      host: this.host,
      port: this.server!.port,
      profileId: id,
      profileName: name
    })
  }

  private setState(state: EngineState): void {
    this.current = state
    this.emit('state', state)
  }

  private authorized(username: string, password: string): boolean {
    return (
      !this.auth || (sameSecret(username, this.auth.username) && sameSecret(password, this.auth.password))
    )
  }

  private route(request: IncomingMessage, hostname: string, port: number, isHttp: boolean): Routed {
    const known = (request as RoutedRequestMessage)[ROUTED]
    if (known) return known
    const route = this.routing
    const routed: Routed = { route, match: route.rules.match({ hostname, port, isHttp }) }
    if (this.stats) this.track(this.stats, request, hostname, port, isHttp, routed)
    return routed
  }

  private track(
    stats: TrafficStats,
    request: IncomingMessage,
    hostname: string,
    port: number,
    isHttp: boolean,
    { route, match }: Routed
  ): void {
    const socket = request.socket as GuardedSocket
    const { decision, rule } = match
    const record = stats.requestStarted(socket, socket.proxyChainId ?? -1, {
      method: request.method ?? 'GET',
      host: hostname,
      port,
      kind: isHttp ? 'http' : 'connect',
      profileId: route.profile.id,
      ruleId: rule?.rule.id ?? null,
      route: decision.action === 'upstream' ? decision.upstreamId : decision.action
    })
    if (isHttp) {
      ;(request as RoutedRequestMessage)[TRACKED] = record
      ;(request as RoutedRequestMessage)[TRACKED_SEQ] = record.seq
    }
  }

  /** A request for Junction itself rather than for a target: the PAC file, or a short explanation. */
  private onOriginForm(req: IncomingMessage, res: ServerResponse): void {
    if (servePac(req, res, this.pac?.current ?? null)) return
    const body =
      'This is the Junction proxy. Configure it as an HTTP/HTTPS proxy; /proxy.pac serves its PAC file.\n'
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', [ERROR_HEADER]: 'not-a-proxy-request' })
    res.end(body)
  }

  /**
   * Direct tunnels are served here rather than by proxy-chain, whose direct tunnel closes the client
   * socket without a word when the target cannot be reached, and whose custom-connect path costs a
   * `util.promisify` per tunnel (a measurable share of CONNECT throughput). Anything else (upstream,
   * block, reject, bad requests, missing credentials) continues to proxy-chain with the decision kept.
   */
  private onConnect(request: IncomingMessage, socket: Socket, head: Buffer, next: ConnectListener): void {
    const target = parseConnectTarget(request.url)
    const auth = parseBasicAuth(request.headers['proxy-authorization'])
    if (!target || !this.authorized(auth.username, auth.password)) return next(request, socket, head)
    const routed = this.route(request, target.hostname, target.port, false)
    ;(request as RoutedRequestMessage)[ROUTED] = routed
    if (routed.match.decision.action !== 'direct') return next(request, socket, head)
    void this.openDirectTunnel(target.hostname, target.port, socket, head)
  }

  private async prepare(opts: PrepareRequestFunctionOpts): Promise<PrepareRequestFunctionResult> {
    const { request, hostname, port, isHttp } = opts
    if (!this.authorized(opts.username, opts.password))
      return { requestAuthentication: true, failMsg: 'Junction requires a proxy username and password.' }

    const { route, match } = this.route(request, hostname, port, isHttp)
    const { decision } = match
    const socket = request.socket as GuardedSocket
    const upstream = decision.action === 'upstream' ? route.upstreams.get(decision.upstreamId) : undefined
    const failure: FailureContext = {
      upstream: upstream?.description ?? null,
      target: hostPort(hostname, port)
    }
    if (isHttp && upstream && upstream.upstream.scheme.startsWith('socks')) {
      const socksUpstream = upstream.upstream
      failure.diagnose = () => diagnoseSocks(socksUpstream, { host: hostname, port })
    }
    socket[FAILURE_CONTEXT] = failure
    guardSocketEnd(socket)
    if (isHttp) {
      stripHopByHop(request.rawHeaders)
      ;(request as RoutedRequestMessage)[FAILURE_CONTEXT] = failure
    }

    switch (decision.action) {
      case 'block':
        throw new RequestError(decision.body, decision.status, { [ERROR_HEADER]: 'blocked' })
      case 'reject':
        // A reset, not a reply: the client sees the connection fail, as with a firewall drop.
        socket[RAW_REPLY] = { status: 0, code: 'rejected' }
        socket.resetAndDestroy()
        throw new RequestError('Rejected by rule', 403)
      case 'upstream':
        if (!upstream)
          throw new Error(`Profile "${route.profile.name}" has no upstream "${decision.upstreamId}"`)
        return {
          upstreamProxyUrl: upstream.url,
          ...(upstream.httpsAgent ? { httpsAgent: upstream.httpsAgent } : {}),
          ...(this.lookup ? { dnsLookup: this.lookup as never } : {})
        }
      case 'direct':
        // Plain HTTP only: direct CONNECT tunnels never reach proxy-chain (see onConnect).
        return this.lookup ? { dnsLookup: this.lookup as never } : {}
    }
  }

  private async openDirectTunnel(host: string, port: number, client: Socket, head: Buffer): Promise<void> {
    let target: Socket
    try {
      target = await connectTarget({ host, port, lookup: this.lookup, timeoutMs: this.connectTimeoutMs })
    } catch (error) {
      const reply = replyForSocketError(error as NodeJS.ErrnoException, {
        upstream: null,
        target: hostPort(host, port)
      })
      if (client.writable) {
        client.setTimeout(1000) // proxy-chain destroys sockets that time out; a lingering client cannot keep this one
        ;(client as GuardedSocket)[RAW_REPLY] = { status: reply.status, code: reply.code }
        client.end(rawErrorResponse(reply))
      }
      return
    }
    if (client.destroyed) {
      target.destroy()
      return
    }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    if (head.length > 0) target.write(head)
    joinSockets(client, target)
  }
}

function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname}:${port}`
}

/** `host:port` of a CONNECT request, as proxy-chain parses it; null when it cannot be parsed. */
function parseConnectTarget(url: string | undefined): { hostname: string; port: number } | null {
  try {
    const parsed = new URL(`connect://${url ?? ''}`)
    return parsed.hostname && parsed.port ? { hostname: parsed.hostname, port: Number(parsed.port) } : null
  } catch {
    return null
  }
}

function parseBasicAuth(header: string | undefined): { username: string; password: string } {
  const m = header ? /^basic\s+(\S+)$/i.exec(header) : null
  if (!m) return { username: '', password: '' }
  const decoded = Buffer.from(m[1]!, 'base64').toString()
  const colon = decoded.indexOf(':')
  return colon === -1
    ? { username: decoded, password: '' }
    : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/**
 * proxy-chain answers a failed plain-HTTP forward by setting a 59x (or, for a direct DNS failure,
 * 404) status and calling `end(statusText)` without ever calling `writeHead`; a relayed origin
 * response always calls `writeHead` first. So an `end` while headers are unsent is proxy-chain's own
 * error reply, and only those are reworded. This is a response class rather than a wrapper installed
 * per response: a new `end` function on every response measurably raised garbage-collection work.
 */
class JunctionResponse extends ServerResponse {
  /** Set for proxied requests when statistics are on: the response reports its end to them. */
  stats: TrafficStats | null = null

  /**
   * A response closes once, done or abandoned, and reports it here rather than through a 'close'
   * listener: one more listener turns the response's own 'close' listeners, which proxy-chain's stream
   * plumbing adds and removes on every request, into arrays, and that cost more than the statistics.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close' && this.stats) finishHttp(this.stats, this)
    return super.emit(event, ...args)
  }

  override end(...args: unknown[]): this {
    const end = ServerResponse.prototype.end as (...a: unknown[]) => this
    const failure = (this.req as RoutedRequestMessage | undefined)?.[FAILURE_CONTEXT]
    if (!failure || this.headersSent || this.getHeader(ERROR_HEADER) !== undefined)
      return end.apply(this, args)
    const status = this.statusCode === 404 && failure.upstream ? 0 : this.statusCode
    const reply = replyForProxyChainStatus(status, this.statusMessage ?? '', failure)
    if (!reply) return end.apply(this, args)
    const send = (final: ErrorReply): this => {
      this.statusCode = final.status
      this.statusMessage = ''
      this.setHeader('Content-Type', 'text/plain; charset=utf-8')
      this.setHeader(ERROR_HEADER, final.code)
      return end.call(this, `${final.message}\n`)
    }
    if (reply.code === 'upstream-error' && failure.diagnose) {
      void failure.diagnose().then((text) => send(replyForProxyChainStatus(599, text, failure) ?? reply))
      return this
    }
    return send(reply)
  }
}

/**
 * Before a tunnel opens, anything proxy-chain writes to the client socket with `end(text)` is its own
 * raw error reply (upstream refused the CONNECT, SOCKS failure, upstream credentials rejected …).
 * Those with a proxy-chain failure status are rewritten; Junction's own replies (which carry
 * X-Junction-Error) and every other write pass through untouched.
 */
function guardSocketEnd(socket: GuardedSocket): void {
  if (socket[END_GUARDED]) return
  socket[END_GUARDED] = true
  const end = socket.end
  socket.end = function (this: Socket, ...args: unknown[]) {
    const [chunk] = args
    const failure = socket[FAILURE_CONTEXT]
    const parsed = typeof chunk === 'string' ? parseRawStatus(chunk) : null
    if (parsed && failure) {
      const reply = parsed.junction ? null : replyForProxyChainStatus(parsed.status, parsed.text, failure)
      socket[RAW_REPLY] = reply
        ? { status: reply.status, code: reply.code }
        : {
            status: parsed.status,
            code: /\r\nx-junction-error: ([^\r]*)/i.exec(chunk as string)?.[1] ?? null
          }
      if (reply) return (end as (text: string) => Socket).call(this, rawErrorResponse(reply))
    }
    return (end as (...a: unknown[]) => Socket).apply(this, args)
  } as typeof socket.end
}

/** What a tunnel's client was told: the raw reply if one was written, else 200 once bytes flowed. */
function tunnelReply(socket: Socket): Reply {
  return (socket as GuardedSocket)[RAW_REPLY] ?? { status: socket.bytesWritten > 0 ? 200 : 0, code: null }
}

/**
 * Logs a plain-HTTP request once its response is done (or abandoned). proxy-chain sends some replies
 * straight to the socket, bypassing the response object; those were recorded by guardSocketEnd.
 */
function finishHttp(stats: TrafficStats, res: ServerResponse): void {
  const req = res.req as RoutedRequestMessage
  const record = req[TRACKED]
  if (!record) return
  const seq = req[TRACKED_SEQ]!
  if (res.headersSent) {
    const code = res.getHeader(ERROR_HEADER)
    stats.requestFinished(record, seq, {
      status: res.statusCode,
      code: typeof code === 'string' ? code : null
    })
  } else {
    const reply = (req.socket as GuardedSocket)[RAW_REPLY]
    stats.requestFinished(record, seq, reply ?? { status: 0, code: null })
  }
}
