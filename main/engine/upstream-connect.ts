/**
 * How plain-HTTP requests and WebSocket upgrades reach a target through one upstream proxy.
 *
 * - HTTP and HTTPS upstreams get the request in absolute form (`GET http://host/path`) with
 *   `Proxy-Authorization`, over a keep-alive pool per upstream (RFC 9112 §3.2.2).
 * - SOCKS upstreams carry a TCP connection to the target, opened by the `socks` library inside an
 *   `http.Agent`, so the request itself is sent exactly as to a direct target. socks4 and socks5 resolve
 *   the name here; socks4a and socks5h let the upstream resolve it.
 *
 * CONNECT tunnels through upstreams are proxy-chain's job (see proxy-chain-adapter.ts); it takes the
 * upstream as a URL, built by upstream.ts.
 */
import http from 'node:http'
import https from 'node:https'
import net, { type LookupFunction } from 'node:net'
import tls from 'node:tls'
import { lookup as dnsLookup } from 'node:dns'
import { SocksClient, type SocksProxy } from 'socks'
import type { Upstream } from '../../common/model.ts'
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
   * gives a connection of its own, which leaves the pool when it becomes a tunnel.
   */
  requestOptions(target: Target, lookup: LookupFunction | undefined, forUpgrade: boolean): UpstreamRequest
  /** Drops idle pooled connections once a profile change retired this connector. */
  close(): void
}

export interface Target {
  hostname: string
  port: number
  /** The request target in absolute form, e.g. `http://example.com:8080/path?q`. */
  url: string
}

export interface UpstreamRequest {
  /** `https.request` for an HTTPS upstream, `http.request` otherwise. */
  secure: boolean
  options: http.RequestOptions & https.RequestOptions
  /** Sent to the upstream ahead of the client's headers. */
  extraHeaders: string[]
}

function basicAuth(upstream: Upstream): string | null {
  if (!upstream.username && !upstream.password) return null
  return `Basic ${Buffer.from(`${upstream.username ?? ''}:${upstream.password ?? ''}`).toString('base64')}`
}

export function createUpstreamConnector(upstream: Upstream, connectTimeoutMs: number): UpstreamConnector {
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
      ? new https.Agent({
          keepAlive: true,
          scheduling: 'lifo',
          ...(upstream.ca ? { ca: [...tls.rootCertificates, upstream.ca] } : {})
        })
      : new http.Agent({ keepAlive: true, scheduling: 'lifo' })
    const auth = basicAuth(upstream)
    const host = upstream.host.replace(/^\[(.*)\]$/, '$1')
    return {
      ...common,
      requestOptions: (target, lookup, forUpgrade) => ({
        secure,
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
  const pool = new SocksAgent(upstream, connectTimeoutMs, { keepAlive: true, scheduling: 'lifo' })
  const single = new SocksAgent(upstream, connectTimeoutMs, {})
  return {
    ...common,
    requestOptions: (target, lookup, forUpgrade) => {
      pool.lookup = lookup
      single.lookup = lookup
      return {
        secure: false,
        options: {
          host: target.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: target.port,
          path: pathOf(target.url),
          agent: forUpgrade ? single : pool
        },
        extraHeaders: []
      }
    },
    close: () => destroyIdle(pool)
  }
}

/** The origin-form path of an absolute URL: `/path?query`. */
function pathOf(url: string): string {
  const afterScheme = url.indexOf('//') + 2
  const slash = url.indexOf('/', afterScheme)
  return slash === -1 ? '/' : url.slice(slash)
}

function destroyIdle(agent: http.Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
}

/** An `http.Agent` whose connections are SOCKS tunnels to the request's host. */
class SocksAgent extends http.Agent {
  lookup: LookupFunction | undefined = undefined
  private readonly proxy: SocksProxy
  private readonly resolveLocally: boolean

  private readonly timeoutMs: number

  constructor(upstream: Upstream, timeoutMs: number, options: http.AgentOptions) {
    super(options)
    this.timeoutMs = timeoutMs
    this.resolveLocally = upstream.scheme === 'socks4' || upstream.scheme === 'socks5'
    this.proxy = {
      host: upstream.host.replace(/^\[(.*)\]$/, '$1'),
      port: upstream.port,
      type: upstream.scheme.startsWith('socks4') ? 4 : 5,
      ...(upstream.username !== undefined ? { userId: upstream.username } : {}),
      ...(upstream.password !== undefined ? { password: upstream.password } : {})
    }
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (error: Error | null, socket: net.Socket) => void
  ): undefined {
    const host = options.host ?? 'localhost'
    const port = Number(options.port ?? 80)
    const done = callback as (error: Error | null, socket?: net.Socket) => void
    void this.open(host, port).then(
      (socket) => done(null, socket),
      (error: Error) => done(error)
    )
    return undefined
  }

  private async open(host: string, port: number): Promise<net.Socket> {
    const address = this.resolveLocally && net.isIP(host) === 0 ? await this.resolve(host) : host
    const { socket } = await SocksClient.createConnection({
      proxy: this.proxy,
      command: 'connect',
      destination: { host: address, port },
      timeout: this.timeoutMs
    })
    return socket
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
