/**
 * The proxy engine: Junction's own HTTP server, with the path every request takes laid out in stage
 * files — accept.ts (entry points) → route.ts → account.ts → modify.ts → transport.ts — and proxy-chain
 * carrying CONNECT tunnels through upstream proxies (proxy-chain-adapter.ts). Plain Node, no Electron:
 * the desktop app, the headless mode and the tests all run this same class.
 */
import { EventEmitter } from 'node:events'
import http from 'node:http'
import https from 'node:https'
import tls from 'node:tls'
import type { LookupFunction } from 'node:net'
import { DIRECT_PROFILE, type EngineState, type Profile } from '../../common/model.ts'
import { Accept, type ProxyAuth } from './accept.ts'
import { Accounting, JunctionResponse } from './account.ts'
import type { ExchangeObserver } from './capture.ts'
import { FirstReadServer } from './first-read.ts'
import { IdleTunnels } from './idle-tunnels.ts'
import { Interceptor, type LeafIssuer } from './intercept.ts'
import { LoopGuard } from './loop-guard.ts'
import { UpstreamTunnels } from './proxy-chain-adapter.ts'
import { buildRouting, retireRouting, type ConnectSettings, type Routing } from './route.ts'
import { Transport, type Timeouts } from './transport.ts'
import { POOL } from './upstream-connect.ts'
import { DEFAULT_BACKOFF, UpstreamHealth, type Backoff, type LatencyProbe } from './upstream-health.ts'
import type { RuleHits } from '../stats/rule-hits.ts'
import type { TrafficStats } from '../stats/traffic-stats.ts'
import type { PacPublisher } from '../sysproxy/pac.ts'

export type { Exchange, ExchangeObserver } from './capture.ts'
export type { Backoff, EngineState, LatencyProbe, LeafIssuer, ProxyAuth, Timeouts }

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
  /** Each wait's limit; any left out keeps its default (DEFAULT_TIMEOUTS). */
  timeouts?: Partial<Timeouts>
  /**
   * How long a client may take to send a request's head (line and headers); default 60 s. A client
   * trickling its headers (slowloris) is cut off after this, plus up to a quarter of it.
   */
  requestHeadersMs?: number
  /** Add `Via` to forwarded plain-HTTP requests and responses; default true. */
  via?: boolean
  /** Traffic accounting; off when absent. */
  stats?: TrafficStats | null
  /** Counts the requests and tunnels each rule decides (with `stats` only). */
  ruleHits?: RuleHits | null
  /** The PAC file served at /proxy.pac; none when absent. */
  pac?: PacPublisher | null
  /** The local CA for tunnels whose rule intercepts them; without it, no tunnel is intercepted. */
  authority?: LeafIssuer | null
  /**
   * CA certificates (PEM) trusted for intercepted targets besides the default store (the system's
   * roots and NODE_EXTRA_CA_CERTS).
   */
  trustedCas?: string[]
  /** Sees forwarded HTTP exchanges while it records (the Inspect view's store). */
  exchanges?: ExchangeObserver | null
  /** Measures upstream latencies for lowest-latency groups; without it they keep their members' order. */
  probe?: LatencyProbe | null
  /** How long a group member that failed is skipped; default 5 s doubling to 5 min. */
  memberBackoff?: Backoff
}

/** As in settings.json's defaults (common/model.ts), in milliseconds. */
export const DEFAULT_TIMEOUTS: Timeouts = {
  connectMs: 15_000,
  responseHeadersMs: 60_000,
  idleTunnelMs: 900_000,
  idleClientMs: 120_000
}

const DEFAULT_REQUEST_HEADERS_MS = 60_000

/**
 * Settings of the listening server. Request heads up to 64 KiB (Squid's default; Node's 16 KiB turns
 * large cookies into errors) must arrive within `requestHeadersMs`; a request body may take as long
 * as it flows (no overall request timeout, so large uploads are not cut), and an idle keep-alive
 * connection is closed after `idleClientMs`. Node checks the head deadline on a timer (every 30 s by
 * default, so a slowloris client could hold on 50 % longer); here every quarter of the deadline.
 * A missing Host is refused by accept.ts, with a body that says so.
 */
function serverOptions(timeouts: Timeouts, requestHeadersMs: number): http.ServerOptions {
  return {
    ServerResponse: JunctionResponse as unknown as typeof http.ServerResponse,
    maxHeaderSize: 64 * 1024,
    headersTimeout: requestHeadersMs,
    connectionsCheckingInterval: Math.max(100, Math.round(requestHeadersMs / 4)),
    requestTimeout: 0,
    requireHostHeader: false,
    keepAliveTimeout: timeouts.idleClientMs,
    noDelay: true
  }
}

interface EngineEvents {
  state: [EngineState]
  /** Unexpected failures inside the engine; the process keeps running. */
  failure: [Error]
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

export class ProxyEngine extends EventEmitter<EngineEvents> {
  private readonly host: string
  private readonly requestedPort: number
  private readonly options: EngineOptions
  private readonly timeouts: Timeouts
  private routing: Routing
  private health: UpstreamHealth
  private server: http.Server | null = null
  private accounting: Accounting | null = null
  private directAgent: http.Agent | null = null
  private idle: IdleTunnels | null = null
  private directTlsAgent: https.Agent | null = null
  private transport: Transport | null = null
  private current: EngineState = { status: 'stopped' }

  constructor(options: EngineOptions = {}) {
    super()
    this.options = options
    this.host = options.host ?? '127.0.0.1'
    this.requestedPort = options.port ?? 8899
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts }
    this.health = new UpstreamHealth(options.memberBackoff ?? DEFAULT_BACKOFF)
    this.routing = buildRouting(options.profile ?? DIRECT_PROFILE, this.connectSettings())
  }

  get state(): EngineState {
    return this.current
  }

  get profile(): Profile {
    return this.routing.profile
  }

  /** What groups of the active profile know about their members (up, down until, latency). */
  get upstreamHealth(): UpstreamHealth {
    return this.health
  }

  /** The bound port once running (useful with port 0). */
  get port(): number | null {
    return this.current.status === 'running' ? this.current.port : null
  }

  async start(): Promise<void> {
    if (this.server) throw new Error('The proxy engine is already running')
    const auth = this.options.auth ?? null
    if (!LOOPBACK.has(this.host) && !auth)
      throw new Error(
        `Refusing to listen on ${this.host} without a proxy username and password: anyone on the network could use it`
      )
    this.setState({ status: 'starting' })
    const loop = new LoopGuard()
    const accounting = new Accounting(this.options.stats ?? null, this.options.ruleHits ?? null)
    const directAgent = new http.Agent(POOL)
    const idle = new IdleTunnels(this.timeouts.idleTunnelMs, accounting.open)
    const directTlsAgent = new https.Agent(POOL)
    // Requests inside intercepted tunnels are parsed by a server of their own that never listens.
    const headersMs = this.options.requestHeadersMs ?? DEFAULT_REQUEST_HEADERS_MS
    const inner = http.createServer(serverOptions(this.timeouts, headersMs))
    const issuer = this.options.authority ?? null
    const interceptor = issuer
      ? new Interceptor({
          issuer,
          server: inner,
          passThrough: (connection, first, target, routed) =>
            transport.passThrough(connection, first, target, routed)
        })
      : null
    const transport = new Transport({
      timeouts: this.timeouts,
      lookup: this.options.lookup,
      via: this.options.via === false ? null : `1.1 ${loop.token}`,
      directAgent,
      directTlsAgent,
      trustedCas: this.options.trustedCas?.length
        ? [...tls.getCACertificates('default'), ...this.options.trustedCas]
        : null,
      tunnels: new UpstreamTunnels((error) => this.emit('failure', error)),
      loop,
      idle,
      interceptor,
      observer: this.options.exchanges ?? null,
      // A request inside an intercepted tunnel arrives on the tunnel's inner socket: the tunnel is rerouted.
      rerouted: (socket, label) =>
        accounting.rerouted(interceptor?.tunnelOf(socket)?.connection.socket ?? socket, label)
    })
    const accept = new Accept({
      auth,
      routing: () => this.routing,
      accounting,
      transport,
      loop,
      pac: this.options.pac ?? null,
      interceptor
    })
    inner.on('request', accept.onInterceptedRequest)
    inner.on('checkContinue', accept.onInterceptedRequest)
    inner.on('upgrade', accept.onInterceptedUpgrade)
    inner.on('clientError', accept.onClientError)
    const server = new FirstReadServer(serverOptions(this.timeouts, headersMs), headersMs, (socket) =>
      accounting.connected(socket)
    )
    server.on('request', accept.onRequest)
    // Without this listener Node answers `100 Continue` itself; Junction relays the origin's instead.
    server.on('checkContinue', accept.onRequest)
    server.on('connect', accept.onConnect)
    server.on('upgrade', accept.onUpgrade)
    server.on('clientError', accept.onClientError)
    server.on('timeout', accept.onIdleClient)
    try {
      await listen(server, this.requestedPort, this.host)
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
          ? `port ${this.requestedPort} on ${this.host} is already in use by another program`
          : (error as Error).message
      this.setState({ status: 'failed', error: `Cannot listen: ${reason}` })
      throw new Error(`Cannot listen: ${reason}`, { cause: error })
    }
    loop.listening(this.host, (server.address() as { port: number }).port)
    // Running out of file descriptors makes accept() fail: reported, not a crash.
    server.on('error', (error) => this.emit('failure', error))
    this.server = server
    this.accounting = accounting
    this.directAgent = directAgent
    this.directTlsAgent = directTlsAgent
    this.transport = transport
    this.idle = idle
    this.setRunning()
  }

  /** Stops listening and closes every open connection. */
  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = null
    this.setState({ status: 'stopping' })
    this.options.stats?.closingAll('proxy stopped')
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    // Tunnels and upgraded connections have left the HTTP server's own list: close them all here.
    for (const socket of this.accounting!.open.keys()) socket.destroy()
    this.idle?.stop()
    server.closeAllConnections()
    await closed
    this.directAgent?.destroy()
    this.directTlsAgent?.destroy()
    await this.transport?.close()
    retireRouting(this.routing)
    this.setState({ status: 'stopped' })
  }

  /**
   * Switches routing to `profile` for every request that starts from now on, without a restart.
   * Requests and tunnels already under way keep the route they were given.
   */
  applyProfile(profile: Profile): void {
    const previous = this.routing
    // Health is the active profile's: kept across its edits, started afresh for another profile.
    if (profile.id === previous.profile.id) this.health.keepOnly(profile.upstreams)
    else this.health = new UpstreamHealth(this.options.memberBackoff ?? DEFAULT_BACKOFF)
    this.routing = buildRouting(profile, this.connectSettings(), previous.rules)
    retireRouting(previous)
    if (this.server) this.setRunning()
  }

  private connectSettings(): ConnectSettings {
    return {
      connectMs: this.timeouts.connectMs,
      lookup: this.options.lookup,
      health: this.health,
      probe: this.options.probe ?? null
    }
  }

  private setRunning(): void {
    const { id, name } = this.routing.profile
    this.setState({
      status: 'running',
      host: this.host,
      port: (this.server!.address() as { port: number }).port,
      profileId: id,
      profileName: name
    })
  }

  private setState(state: EngineState): void {
    this.current = state
    this.emit('state', state)
  }
}

/**
 * Connections the kernel may hold, accepted but not yet taken by Node. Node's default (511) overflowed
 * under 2,000 clients reconnecting at once (test/reliability/soak.test.ts): Linux drops the handshake's
 * last ACK, and a client that already sent its request when the server gave up on it is reset. Linux
 * caps the figure at net.core.somaxconn (4096 by default since 5.4).
 */
const LISTEN_BACKLOG = 4096

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
}
