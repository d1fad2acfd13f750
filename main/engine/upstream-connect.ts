/**
 * How plain-HTTP requests and WebSocket upgrades reach a target through one upstream proxy.
 *
 * - HTTP and HTTPS upstreams get the request in absolute form (`GET http://host/path`) with
 *   `Proxy-Authorization`, over a keep-alive pool per upstream (RFC 9112 §3.2.2).
 * - SOCKS upstreams carry a TCP connection to the target, opened by the `socks` library inside an
 *   `http.Agent`, so the request itself is sent exactly as to a direct target. socks4 and socks5 resolve
 *   the name here; socks4a and socks5h let the upstream resolve it.
 *
 * CONNECT tunnels through SOCKS upstreams are opened here too (`openTunnel`); through HTTP/HTTPS
 * upstreams they are proxy-chain's job (see proxy-chain-adapter.ts), which takes the upstream as a URL
 * built by upstream.ts.
 *
 * An upstream reached `via` others (a chain, chain.ts) takes neither path: proxy-chain cannot start
 * from a socket built elsewhere, so every connection through it is a chain Junction builds itself —
 * to the upstream for a plain-HTTP request to an HTTP/HTTPS upstream, to the target for everything
 * else — and tunnels through it are opened here as SOCKS tunnels are.
 */
import http from 'node:http'
import https from 'node:https'
import net, { type LookupFunction } from 'node:net'
import tls from 'node:tls'
import { lookup as dnsLookup } from 'node:dns'
import { SocksClient, type SocksProxy } from 'socks'
import type { Upstream } from '../../common/model.ts'
import { chainTo, openChain } from './chain.ts'
import { connectTarget } from './direct-tunnel.ts'
import { bareHost, hostPort } from './host.ts'
import { describeUpstream, upstreamUrl } from './upstream.ts'

export interface UpstreamConnector {
  upstream: Upstream
  /** For error pages and logs: name and address, never the password. */
  description: string
  /** proxy-chain's form of the upstream, credentials percent-encoded. */
  url: string
  /** For `https` upstreams with their own CA: trusts it in addition to the system roots. */
  httpsAgent: https.Agent | undefined
  /**
   * Request options that send a plain-HTTP request for `target` through this upstream; `forUpgrade`
   * gives a connection of its own, which leaves the pool when it becomes a tunnel. A connection still
   * being opened for the request is given up when `owner`, the client's socket, closes.
   */
  requestOptions(target: Target, forUpgrade: boolean, owner: net.Socket): UpstreamRequest
  /**
   * A TCP connection to the target through the upstream: SOCKS for every CONNECT tunnel, HTTP/HTTPS
   * (a CONNECT of Junction's own) only for intercepted tunnels, whose client was answered already.
   * When `owner` (the client's socket) closes first, the attempt is given up and its socket closed.
   */
  openTunnel: (target: Target, owner?: net.Socket) => Promise<net.Socket>
  /** Whether CONNECT tunnels that are not intercepted go through proxy-chain (HTTP/HTTPS upstreams). */
  viaProxyChain: boolean
  /** Keep-alive pool of TLS connections to targets through this upstream (intercepted HTTPS). */
  tlsAgent: https.Agent
  /** Drops idle pooled connections once a profile change retired this connector. */
  close(): void
}

export interface Target {
  hostname: string
  port: number
  /** `host[:port]` as the client named it, without credentials: the `Host` header to send. */
  authority: string
  /** The origin-form request target, `/path?query`. */
  path: string
  /** The absolute form, `http://authority/path?query`, as sent to an HTTP upstream. */
  url: string
  /** HTTPS inside an intercepted tunnel: TLS to the target, verified for `servername`. */
  secure?: boolean
  servername?: string | null
  /** A request inside an intercepted tunnel (TLS or plain HTTP). */
  intercepted?: boolean
}

/**
 * Request options with the client socket a new connection is for. Node passes a request's options on
 * to its agent's `createConnection`, which is how the SOCKS and tunnel agents below learn it: a
 * ClientRequest destroyed while its agent is still opening a connection does not stop the agent.
 */
export type OwnedRequestOptions = http.RequestOptions & https.RequestOptions & { owner?: net.Socket }

export interface UpstreamRequest {
  options: http.RequestOptions & https.RequestOptions
  /** Sent to the upstream ahead of the client's headers. */
  extraHeaders: string[]
}

/**
 * Keep-alive pools: an idle pooled connection is closed after 4 s, before the usual 5 s after which
 * servers (Node's default) close theirs, so a request rarely meets a connection closing under it.
 */
export const POOL: http.AgentOptions = { keepAlive: true, scheduling: 'lifo', timeout: 4000 }

function basicAuth(upstream: Upstream): string | null {
  if (!upstream.username && !upstream.password) return null
  return `Basic ${Buffer.from(`${upstream.username ?? ''}:${upstream.password ?? ''}`).toString('base64')}`
}

/**
 * The connector for `upstream`; `upstreams` are the profile's others, where the hops of its chain
 * are found when it has a `via`.
 */
/**
 * For upstreams that carry a TCP connection to the target (SOCKS, or the last hop of a chain): the
 * request is sent as to a direct target, over `pool`, or over its own connection for an upgrade.
 */
function directThrough(
  pool: http.Agent,
  single: http.Agent
): Pick<UpstreamConnector, 'requestOptions' | 'close'> {
  return {
    requestOptions: (target, forUpgrade, owner) => ({
      options: {
        host: bareHost(target.hostname),
        port: target.port,
        path: target.path,
        agent: forUpgrade ? single : pool,
        owner
      } as OwnedRequestOptions,
      extraHeaders: []
    }),
    close: () => destroyIdle(pool)
  }
}

export function createUpstreamConnector(
  upstream: Upstream,
  connectTimeoutMs: number,
  lookup: LookupFunction | undefined,
  upstreams: readonly Upstream[] = []
): UpstreamConnector {
  if (upstream.via !== undefined)
    return createChainedConnector(chainTo(upstream, upstreams), connectTimeoutMs, lookup)
  const common = {
    upstream,
    description: describeUpstream(upstream),
    url: upstreamUrl(upstream),
    httpsAgent:
      upstream.scheme === 'https' && upstream.ca
        ? new https.Agent({ ca: [...tls.rootCertificates, upstream.ca] })
        : undefined
  }
  if (upstream.scheme === 'http' || upstream.scheme === 'https') {
    const secure = upstream.scheme === 'https'
    const pool = secure
      ? new https.Agent({ ...POOL, ...(upstream.ca ? { ca: [...tls.rootCertificates, upstream.ca] } : {}) })
      : new http.Agent(POOL)
    const auth = basicAuth(upstream)
    const host = bareHost(upstream.host)
    const openTunnel = (target: Target, owner?: net.Socket): Promise<net.Socket> =>
      connectThroughProxy(
        { secure, host, port: upstream.port, auth, ca: upstream.ca, lookup, connectTimeoutMs },
        target,
        owner
      )
    return {
      ...common,
      openTunnel,
      viaProxyChain: true,
      tlsAgent: new TunnelTlsAgent(openTunnel, connectTimeoutMs),
      requestOptions: (target, forUpgrade) => ({
        options: {
          host,
          port: upstream.port,
          path: target.url,
          agent: forUpgrade ? false : pool,
          ...(lookup ? { lookup } : {}),
          ...(secure ? { servername: net.isIP(host) ? undefined : host } : {}),
          ...(secure && upstream.ca ? { ca: [...tls.rootCertificates, upstream.ca] } : {})
        },
        extraHeaders: auth ? ['Proxy-Authorization', auth] : []
      }),
      close: () => destroyIdle(pool)
    }
  }
  const pool = new SocksAgent(upstream, connectTimeoutMs, lookup, POOL)
  const single = new SocksAgent(upstream, connectTimeoutMs, lookup, {})
  const openTunnel = (target: Target, owner?: net.Socket): Promise<net.Socket> =>
    single.open(bareHost(target.hostname), target.port, owner)
  return {
    ...common,
    openTunnel,
    viaProxyChain: false,
    tlsAgent: new TunnelTlsAgent(openTunnel, connectTimeoutMs),
    ...directThrough(pool, single)
  }
}

/**
 * An upstream at the end of a chain. Tunnels and SOCKS requests are chains to the target; a
 * plain-HTTP request to an HTTP/HTTPS upstream is sent in absolute form on a chain to the upstream
 * (TLS added for an `https` one), pooled like any connection to it.
 */
function createChainedConnector(
  chain: Upstream[],
  connectTimeoutMs: number,
  lookup: LookupFunction | undefined
): UpstreamConnector {
  const upstream = chain.at(-1)!
  const settings = { lookup, timeoutMs: connectTimeoutMs }
  const openTunnel = (target: Target, owner?: net.Socket): Promise<net.Socket> =>
    openChain(chain, { host: target.hostname, port: target.port }, { ...settings, owner })
  const common = {
    upstream,
    description: describeUpstream(upstream),
    url: upstreamUrl(upstream),
    httpsAgent: undefined,
    openTunnel,
    viaProxyChain: false,
    tlsAgent: new TunnelTlsAgent(openTunnel, connectTimeoutMs)
  }
  if (upstream.scheme === 'http' || upstream.scheme === 'https') {
    const secure = upstream.scheme === 'https'
    const toUpstream = (_host: string, _port: number, owner?: net.Socket): Promise<net.Socket> =>
      openChain(chain, null, { ...settings, owner })
    const pool = connectingWith(secure ? new https.Agent(POOL) : new http.Agent(POOL), toUpstream)
    const single = connectingWith(secure ? new https.Agent() : new http.Agent(), toUpstream)
    const auth = basicAuth(upstream)
    const host = bareHost(upstream.host)
    return {
      ...common,
      requestOptions: (target, forUpgrade, owner) => ({
        options: {
          host,
          port: upstream.port,
          path: target.url,
          agent: forUpgrade ? single : pool,
          owner
        } as OwnedRequestOptions,
        extraHeaders: auth ? ['Proxy-Authorization', auth] : []
      }),
      close: () => destroyIdle(pool)
    }
  }
  const toTarget = (host: string, port: number, owner?: net.Socket): Promise<net.Socket> =>
    openChain(chain, { host, port }, { ...settings, owner })
  const pool = connectingWith(new http.Agent(POOL), toTarget)
  const single = connectingWith(new http.Agent(), toTarget)
  return {
    ...common,
    ...directThrough(pool, single)
  }
}

/**
 * Makes `agent` take its connections from `open` (a chain) instead of dialling them: Node passes a
 * request's options, `owner` included, to `createConnection`.
 */
function connectingWith<A extends http.Agent>(
  agent: A,
  open: (host: string, port: number, owner?: net.Socket) => Promise<net.Socket>
): A {
  agent.createConnection = (options: OwnedRequestOptions, callback) => {
    const done = callback as (error: Error | null, socket?: net.Socket) => void
    open(options.host ?? 'localhost', Number(options.port ?? 80), options.owner).then(
      (socket) => done(null, socket),
      (error: Error) => done(error)
    )
    return undefined as unknown as net.Socket
  }
  return agent
}

function destroyIdle(agent: http.Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
}

/** An `http.Agent` whose connections are SOCKS tunnels to the request's host. */
class SocksAgent extends http.Agent {
  private readonly lookup: LookupFunction | undefined
  private readonly proxy: SocksProxy
  private readonly resolveLocally: boolean

  private readonly timeoutMs: number

  constructor(
    upstream: Upstream,
    timeoutMs: number,
    lookup: LookupFunction | undefined,
    options: http.AgentOptions
  ) {
    super(options)
    this.timeoutMs = timeoutMs
    this.lookup = lookup
    this.resolveLocally = upstream.scheme === 'socks4' || upstream.scheme === 'socks5'
    this.proxy = {
      host: bareHost(upstream.host),
      port: upstream.port,
      type: upstream.scheme.startsWith('socks4') ? 4 : 5,
      ...(upstream.username !== undefined ? { userId: upstream.username } : {}),
      ...(upstream.password !== undefined ? { password: upstream.password } : {})
    }
  }

  override createConnection(
    options: OwnedRequestOptions,
    callback?: (error: Error | null, socket: net.Socket) => void
  ): undefined {
    const host = options.host ?? 'localhost'
    const port = Number(options.port ?? 80)
    const done = callback as (error: Error | null, socket?: net.Socket) => void
    void this.open(host, port, options.owner).then(
      (socket) => done(null, socket),
      (error: Error) => done(error)
    )
    return undefined
  }

  /**
   * A connection to `host:port` through the SOCKS proxy, within the connect timeout in all: the TCP
   * connection to the proxy and its SOCKS answer share one deadline. Junction opens the TCP connection
   * itself (connectTarget) so that the proxy's name goes through the engine's lookup and the socket can
   * be dropped as soon as `owner` closes, whichever step is under way.
   */
  async open(host: string, port: number, owner?: net.Socket): Promise<net.Socket> {
    const deadline = Date.now() + this.timeoutMs
    const address = this.resolveLocally && net.isIP(host) === 0 ? await this.resolve(host) : host
    const carrier = await connectTarget({
      host: this.proxy.host!,
      port: this.proxy.port,
      lookup: this.lookup,
      timeoutMs: Math.max(deadline - Date.now(), 1),
      owner
    })
    const abandoned = (): void => void carrier.destroy()
    owner?.once('close', abandoned)
    try {
      const { socket } = await SocksClient.createConnection({
        proxy: this.proxy,
        command: 'connect',
        destination: { host: address, port },
        timeout: Math.max(deadline - Date.now(), 1),
        existing_socket: carrier
      })
      return socket
    } catch (error) {
      carrier.destroy()
      // The library words a handshake that ran out of time as text only; it is a connect timeout.
      if (/timed out/i.test((error as Error).message))
        throw Object.assign(new Error(`SOCKS handshake with ${this.proxy.host} timed out`), {
          code: 'ETIMEDOUT'
        })
      throw error
    } finally {
      owner?.removeListener('close', abandoned)
    }
  }

  private resolve(host: string): Promise<string> {
    const lookup = this.lookup ?? (dnsLookup as unknown as LookupFunction)
    const family = this.proxy.type === 4 ? 4 : 0
    return new Promise((resolve, reject) =>
      lookup(host, { family }, (error, address) =>
        error ? reject(error) : resolve(Array.isArray(address) ? address[0]!.address : address)
      )
    )
  }
}

/**
 * Opens a CONNECT tunnel through an HTTP or HTTPS proxy; rejects with a readable error. The connect
 * timeout covers everything up to the proxy's answer (TCP, TLS to an HTTPS proxy, the CONNECT reply).
 */
function connectThroughProxy(
  proxy: {
    secure: boolean
    host: string
    port: number
    auth: string | null
    ca: string | undefined
    lookup: LookupFunction | undefined
    connectTimeoutMs: number
  },
  target: Target,
  owner?: net.Socket
): Promise<net.Socket> {
  const authority = hostPort(target.hostname, target.port)
  return new Promise((resolve, reject) => {
    const request = (proxy.secure ? https : http).request({
      host: proxy.host,
      port: proxy.port,
      method: 'CONNECT',
      path: authority,
      headers: { Host: authority, ...(proxy.auth ? { 'Proxy-Authorization': proxy.auth } : {}) },
      agent: false,
      ...(proxy.lookup ? { lookup: proxy.lookup } : {}),
      ...(proxy.secure && proxy.ca ? { ca: [...tls.rootCertificates, proxy.ca] } : {})
    })
    const timer = setTimeout(
      () => request.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })),
      proxy.connectTimeoutMs
    )
    const abandoned = (): void =>
      void request.destroy(Object.assign(new Error('the client left'), { code: 'ECONNABORTED' }))
    owner?.once('close', abandoned)
    request.once('connect', (response, socket: net.Socket, head: Buffer) => {
      clearTimeout(timer)
      owner?.removeListener('close', abandoned)
      if (response.statusCode === 200) {
        if (head.length > 0) socket.unshift(head)
        return resolve(socket)
      }
      socket.destroy()
      // Worded as the SOCKS library words its failures, which errors.ts reads.
      reject(
        new Error(
          response.statusCode === 407
            ? 'Proxy authentication failed'
            : `the upstream answered ${response.statusCode} to CONNECT ${authority}`
        )
      )
    })
    request.once('error', (error) => {
      clearTimeout(timer)
      owner?.removeListener('close', abandoned)
      reject(error)
    })
    request.end()
  })
}

/**
 * An `https.Agent` whose connections are TLS to the target inside a tunnel through an upstream. The
 * TLS handshake must finish within the connect timeout too: until the agent hands a connection over,
 * no timer of the request itself runs.
 */
class TunnelTlsAgent extends https.Agent {
  private readonly openTunnel: (target: Target, owner?: net.Socket) => Promise<net.Socket>
  private readonly connectTimeoutMs: number

  constructor(
    openTunnel: (target: Target, owner?: net.Socket) => Promise<net.Socket>,
    connectTimeoutMs: number
  ) {
    super(POOL)
    this.openTunnel = openTunnel
    this.connectTimeoutMs = connectTimeoutMs
  }

  override createConnection(
    options: OwnedRequestOptions & tls.ConnectionOptions,
    callback?: (error: Error | null, socket: net.Socket) => void
  ): undefined {
    const done = callback as (error: Error | null, socket?: net.Socket) => void
    const hostname = options.host ?? 'localhost'
    const port = Number(options.port ?? 443)
    const target = { hostname, port, authority: `${hostname}:${port}`, path: '/', url: '' }
    this.openTunnel(target, options.owner).then(
      (socket) => {
        const { owner, ...tlsOptions } = options
        const secure = tls.connect({ ...tlsOptions, socket, ALPNProtocols: ['http/1.1'] })
        let settled = false
        const settle = (error: Error | null): void => {
          if (settled) return
          settled = true
          secure.setTimeout(0)
          owner?.removeListener('close', abandoned)
          if (!error) return done(null, secure)
          secure.destroy()
          done(error)
        }
        const abandoned = (): void =>
          settle(Object.assign(new Error('the client left'), { code: 'ECONNABORTED' }))
        owner?.once('close', abandoned)
        secure.setTimeout(this.connectTimeoutMs, () =>
          settle(Object.assign(new Error(`TLS handshake with ${hostname} timed out`), { code: 'ETIMEDOUT' }))
        )
        secure.once('secureConnect', () => settle(null))
        secure.once('error', settle)
      },
      (error: Error) => done(error)
    )
    return undefined
  }
}
