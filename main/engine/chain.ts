/**
 * Multi-hop chains: an upstream with `via` is reached through that upstream, which may have a `via`
 * of its own (at most MAX_CHAIN_HOPS in all, checked when the profile is saved).
 *
 * proxy-chain and the `socks` library each open the first TCP connection themselves, so neither can
 * carry a tunnel inside another. Junction builds the chain here, one handshake after another on the
 * same socket: TCP to the first hop, then per hop TLS (an `https` hop), and a CONNECT (HTTP) or a
 * SOCKS request (the `socks` library on the existing socket) naming the next hop's address, or the
 * target's after the last hop. The finished socket then carries the request or tunnel as if it had
 * reached the last hop directly (upstream-connect.ts).
 *
 * The whole chain shares one deadline, the connect timeout, and the client leaving (`owner` closing)
 * ends the attempt at whatever step it is. A failure names the hop it happened at, in words
 * ("hop 2 of 3 (…) refused the connection"), with the engine's error codes (errors.ts).
 */
import http from 'node:http'
import net, { type LookupFunction } from 'node:net'
import tls from 'node:tls'
import { lookup as dnsLookup } from 'node:dns'
import { SocksClient } from 'socks'
import type { Upstream } from '../../common/model.ts'
import type { ErrorReply, JunctionErrorCode } from './errors.ts'
import { bareHost, hostPort } from './host.ts'

/** Where a chain's socket should lead: a host name or IP literal and a port. */
export interface Address {
  host: string
  port: number
}

export interface ChainOptions {
  lookup: LookupFunction | undefined
  /** The connect timeout: the whole chain must be built within it. */
  timeoutMs: number
  /** The client socket the connection is for; when it closes, the attempt is given up. */
  owner?: net.Socket | undefined
}

/**
 * A chain that could not be built, with the reply for the client. `code` is the errno-style cause
 * (`ECONNREFUSED`, `ETIMEDOUT`, …) so that callers can tell a refusal from a timeout without parsing
 * text; `hop` is the 1-based hop it concerns.
 */
export class ChainError extends Error {
  readonly code: string
  readonly hop: number
  readonly reply: ErrorReply

  constructor(reply: ErrorReply, code: string, hop: number) {
    super(reply.message)
    this.name = 'ChainError'
    this.reply = reply
    this.code = code
    this.hop = hop
  }
}

/** The upstreams a connection to `upstream` passes, first hop first, `upstream` itself last. */
export function chainTo(upstream: Upstream, upstreams: readonly Upstream[]): Upstream[] {
  const chain = [upstream]
  for (let hop = upstream; hop.via !== undefined;) {
    const next = upstreams.find((u) => u.id === hop.via)
    // Validation refuses dangling and looping `via`s; this guards a profile that skipped it.
    if (!next || chain.includes(next))
      throw new Error(`Upstream "${hop.name}" is reached via "${hop.via}", which is missing or loops`)
    chain.unshift(next)
    hop = next
  }
  return chain
}

/**
 * A socket to `destination` through every hop of `chain` (a tunnel to the target), or, with
 * `destination` null, a socket to the last hop through the ones before it, with TLS when that hop is
 * `https`: ready for a request to the last hop itself.
 */
export function openChain(
  chain: readonly Upstream[],
  destination: Address | null,
  options: ChainOptions
): Promise<net.Socket> {
  return new ChainAttempt(chain, destination, options).run()
}

/** One chain being built: which step it is at, and the one socket that carries it. */
class ChainAttempt {
  private readonly chain: readonly Upstream[]
  private readonly destination: Address | null
  private readonly options: ChainOptions
  private readonly deadline: number
  /** The outermost socket so far (TCP, or TLS over it); destroying it fails the step under way. */
  private socket: net.Socket | null = null
  /** 1-based hop whose connection or handshake is under way. */
  private hop = 1
  private step: 'connect' | 'tls' | 'handshake' = 'connect'
  private ended: 'timeout' | 'left' | null = null

  constructor(chain: readonly Upstream[], destination: Address | null, options: ChainOptions) {
    this.chain = chain
    this.destination = destination
    this.options = options
    this.deadline = Date.now() + options.timeoutMs
  }

  async run(): Promise<net.Socket> {
    const { owner } = this.options
    const stop = (why: 'timeout' | 'left'): void => {
      this.ended ??= why
      this.socket?.destroy()
    }
    const timer = setTimeout(() => stop('timeout'), this.options.timeoutMs)
    const left = (): void => stop('left')
    owner?.once('close', left)
    try {
      if (owner?.destroyed) stop('left')
      let socket = await this.connectFirst()
      const through = this.destination ? this.chain.length : this.chain.length - 1
      for (let i = 0; i < through; i++) {
        this.hop = i + 1
        const hop = this.chain[i]!
        const next = i + 1 < this.chain.length ? address(this.chain[i + 1]!) : this.destination!
        if (hop.scheme === 'https') {
          this.step = 'tls'
          socket = this.track(await secure(socket, hop))
        }
        this.step = 'handshake'
        socket = this.track(
          hop.scheme === 'http' || hop.scheme === 'https'
            ? await httpConnect(socket, hop, next)
            : await this.socksConnect(socket, hop, next)
        )
      }
      const last = this.chain.at(-1)!
      if (!this.destination && last.scheme === 'https') {
        this.hop = this.chain.length
        this.step = 'tls'
        socket = this.track(await secure(socket, last))
      }
      if (this.ended) throw new Error(this.ended)
      return socket
    } catch (error) {
      this.socket?.destroy()
      throw this.explain(error as NodeJS.ErrnoException)
    } finally {
      clearTimeout(timer)
      owner?.removeListener('close', left)
    }
  }

  private track(socket: net.Socket): net.Socket {
    this.socket = socket
    if (this.ended) socket.destroy()
    return socket
  }

  /** TCP to the first hop, its name resolved by the engine's lookup. */
  private connectFirst(): Promise<net.Socket> {
    const first = this.chain[0]!
    const { lookup } = this.options
    // No Nagle, as Node's HTTP client: tunnelled handshakes are small writes in both directions, and
    // a small write held back until the peer's delayed ACK (up to 40 ms on Linux) would be paid per hop.
    const socket = this.track(
      net.connect({
        host: bareHost(first.host),
        port: first.port,
        noDelay: true,
        ...(lookup ? { lookup } : {})
      })
    )
    return ready(socket, 'connect')
  }

  private async socksConnect(socket: net.Socket, hop: Upstream, next: Address): Promise<net.Socket> {
    const version = hop.scheme.startsWith('socks4') ? 4 : 5
    // socks4 and socks5 resolve names here; socks4a and socks5h send them to the hop.
    const localNames = hop.scheme === 'socks4' || hop.scheme === 'socks5'
    const host = bareHost(next.host)
    const resolved = localNames && net.isIP(host) === 0 ? await this.resolve(host, version) : host
    const { socket: tunnel } = await SocksClient.createConnection({
      proxy: {
        host: bareHost(hop.host),
        port: hop.port,
        type: version,
        ...(hop.username !== undefined ? { userId: hop.username } : {}),
        ...(hop.password !== undefined ? { password: hop.password } : {})
      },
      command: 'connect',
      destination: { host: resolved, port: next.port },
      timeout: Math.max(this.deadline - Date.now(), 1),
      existing_socket: socket
    })
    return tunnel
  }

  private resolve(host: string, version: 4 | 5): Promise<string> {
    const lookup = this.options.lookup ?? (dnsLookup as unknown as LookupFunction)
    return new Promise((resolve, reject) =>
      lookup(host, { family: version === 4 ? 4 : 0 }, (error, found) =>
        error ? reject(error) : resolve(Array.isArray(found) ? found[0]!.address : found)
      )
    )
  }

  /** The failure in words, naming the hop; the client leaving stays a plain ECONNABORTED. */
  private explain(error: NodeJS.ErrnoException): Error {
    if (this.ended === 'left')
      return Object.assign(new Error('the client left before the chain was built'), { code: 'ECONNABORTED' })
    const { chain, hop, step } = this
    const say = (status: number, code: JunctionErrorCode, errno: string, what: string, at = hop) =>
      new ChainError({ status, code, message: `${route(chain)}: ${what}.` }, errno, at)
    const here = label(chain, hop)
    if (this.ended === 'timeout') {
      const seconds = this.options.timeoutMs / 1000
      if (step === 'connect')
        return say(504, 'upstream-timeout', 'ETIMEDOUT', `${here} could not be reached within ${seconds} s`)
      // A hop answers its CONNECT or SOCKS request once it has connected on: the wait may be the
      // next hop's (or the target's), which only that hop could tell.
      const onward =
        step === 'handshake'
          ? ` while connecting on to ${hop < chain.length ? label(chain, hop + 1) : destinationText(this.destination!)}`
          : ''
      return say(504, 'upstream-timeout', 'ETIMEDOUT', `${here} did not answer within ${seconds} s${onward}`)
    }
    if (error instanceof ConnectAnswer) return this.explainAnswer(error, say)
    const message = error.message ?? ''
    const unresolved = error.code === 'ENOTFOUND' || error.code?.startsWith('EAI_') === true
    if (step === 'connect') {
      if (error.code === 'ECONNREFUSED')
        return say(502, 'upstream-refused', 'ECONNREFUSED', `${here} refused the connection`)
      if (unresolved)
        return say(502, 'dns-failed', error.code!, `the host name of ${here} could not be resolved`)
    }
    // A socks4/socks5 hop takes addresses, not names: Junction resolves the next one for it.
    if (unresolved) {
      const next = hop < chain.length ? label(chain, hop + 1) : destinationText(this.destination!)
      return say(502, 'dns-failed', error.code!, `the host name of ${next} could not be resolved for ${here}`)
    }
    if (step === 'tls')
      return say(502, 'upstream-error', error.code ?? 'EPROTO', `TLS with ${here} failed: ${message}`)
    if (/authentication failed/i.test(message))
      return say(502, 'upstream-auth-failed', 'EACCES', `${here} rejected Junction's username or password`)
    if (/timed out/i.test(message))
      return say(504, 'upstream-timeout', 'ETIMEDOUT', `${here} did not answer in time`)
    const rejected = /rejected connection - (\w+)/i.exec(message)?.[1]
    if (rejected) return this.explainSocksRefusal(rejected, say)
    if (
      error.code === 'ECONNRESET' ||
      error.code === 'EPIPE' ||
      /socket closed|closed|hang up/i.test(message)
    )
      return say(502, 'upstream-reset', 'ECONNRESET', `${here} closed the connection during its handshake`)
    return say(502, 'upstream-error', error.code ?? 'EPROTO', `${here} failed: ${message}`)
  }

  /** A SOCKS hop could not connect on: to the next hop (named as the one at fault) or the target. */
  private explainSocksRefusal(reason: string, say: Say): ChainError {
    const { chain, hop } = this
    const toHop = hop < chain.length
    const reported = `(as hop ${hop}, "${chain[hop - 1]!.name}", reported: ${reason})`
    if (!toHop)
      return say(
        502,
        'upstream-rejected',
        reason === 'ConnectionRefused' ? 'ECONNREFUSED' : 'EHOSTUNREACH',
        `${label(chain, hop)} could not connect to ${destinationText(this.destination!)} ${reported}`
      )
    const next = label(chain, hop + 1)
    return reason === 'ConnectionRefused'
      ? say(502, 'upstream-refused', 'ECONNREFUSED', `${next} refused the connection ${reported}`, hop + 1)
      : say(502, 'upstream-rejected', 'EHOSTUNREACH', `${next} could not be reached ${reported}`, hop + 1)
  }

  /** An HTTP hop answered its CONNECT with something other than 200. */
  private explainAnswer(answer: ConnectAnswer, say: Say): ChainError {
    const { chain, hop } = this
    const here = label(chain, hop)
    if (answer.status === 407)
      return say(502, 'upstream-auth-failed', 'EACCES', `${here} rejected Junction's username or password`)
    const reported = `(as hop ${hop}, "${chain[hop - 1]!.name}", reported: ${answer.status} ${answer.text})`
    if (hop === chain.length)
      return say(
        502,
        'upstream-rejected',
        'EHOSTUNREACH',
        `${here} refused to open a tunnel to ${destinationText(this.destination!)} ${reported}`
      )
    const next = label(chain, hop + 1)
    // Squid says why in a header of its own: `ERR_CONNECT_FAIL 111` is ECONNREFUSED on Linux.
    if (answer.status === 504 || /TIMEOUT/i.test(answer.squidError))
      return say(504, 'upstream-timeout', 'ETIMEDOUT', `${next} did not answer ${reported}`, hop + 1)
    if (/ERR_CONNECT_FAIL 111\b/.test(answer.squidError))
      return say(
        502,
        'upstream-refused',
        'ECONNREFUSED',
        `${next} refused the connection ${reported}`,
        hop + 1
      )
    return say(502, 'upstream-rejected', 'EHOSTUNREACH', `${next} could not be reached ${reported}`, hop + 1)
  }
}

type Say = (status: number, code: JunctionErrorCode, errno: string, what: string, at?: number) => ChainError

/** An HTTP hop's answer to CONNECT other than 200. */
class ConnectAnswer extends Error {
  readonly status: number
  readonly text: string
  /** Squid's `X-Squid-Error` header (e.g. `ERR_CONNECT_FAIL 111`), or empty. */
  readonly squidError: string

  constructor(status: number, text: string, squidError: string) {
    super(`answered ${status} ${text}`)
    this.status = status
    this.text = text
    this.squidError = squidError
  }
}

function address(upstream: Upstream): Address {
  return { host: upstream.host, port: upstream.port }
}

function destinationText(destination: Address): string {
  return hostPort(destination.host, destination.port)
}

/** `Via the chain "A" → "B" → "C"`, the opening of every chain error. */
function route(chain: readonly Upstream[]): string {
  return `Through the chain ${chain.map((u) => `"${u.name}"`).join(' → ')}`
}

/** `hop 2 of 3 ("Squid B", http://127.0.0.1:3129)`: which hop, by name and address, never a password. */
export function label(chain: readonly Upstream[], hop: number): string {
  const upstream = chain[hop - 1]!
  return `hop ${hop} of ${chain.length} ("${upstream.name}", ${upstream.scheme}://${hostPort(upstream.host, upstream.port)})`
}

/** TLS to an `https` hop over the chain so far, verified for its name (or IP) and its own CA if set. */
function secure(socket: net.Socket, hop: Upstream): Promise<net.Socket> {
  const host = bareHost(hop.host)
  const connection = tls.connect({
    socket,
    host,
    // RFC 6066 §3: no IP literals as SNI.
    ...(net.isIP(host) ? {} : { servername: host }),
    ...(hop.ca ? { ca: [...tls.rootCertificates, hop.ca] } : {}),
    ALPNProtocols: ['http/1.1']
  })
  return ready(connection, 'secureConnect')
}

/** Resolves once `socket` has emitted `event`; rejects if it fails or closes first. */
function ready<T extends net.Socket>(socket: T, event: 'connect' | 'secureConnect'): Promise<T> {
  return new Promise((resolve, reject) => {
    const settle = (error: Error | null): void => {
      socket.removeListener(event, succeeded)
      socket.removeListener('error', settle)
      socket.removeListener('close', closed)
      if (error) reject(error)
      else resolve(socket)
    }
    const succeeded = (): void => settle(null)
    const closed = (): void => settle(Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }))
    socket.once(event, succeeded)
    socket.once('error', settle)
    socket.once('close', closed)
  })
}

/**
 * Sends `CONNECT next` with the hop's credentials on an open socket and waits for the answer; on 200
 * the socket leads to `next` (any bytes that followed the answer are put back). Node's HTTP client
 * parses the answer, on exactly this socket (`createConnection` without an agent).
 */
function httpConnect(socket: net.Socket, hop: Upstream, next: Address): Promise<net.Socket> {
  const authority = hostPort(next.host, next.port)
  const auth =
    hop.username || hop.password
      ? `Basic ${Buffer.from(`${hop.username ?? ''}:${hop.password ?? ''}`).toString('base64')}`
      : null
  return new Promise((resolve, reject) => {
    const request = http.request({
      createConnection: () => socket,
      method: 'CONNECT',
      path: authority,
      headers: { Host: authority, ...(auth ? { 'Proxy-Authorization': auth } : {}) }
    })
    request.once('connect', (response: http.IncomingMessage, tunnel: net.Socket, head: Buffer) => {
      if (response.statusCode === 200) {
        if (head.length > 0) tunnel.unshift(head)
        return resolve(tunnel)
      }
      const squidError = response.headers['x-squid-error']
      reject(
        new ConnectAnswer(
          response.statusCode ?? 0,
          response.statusMessage ?? '',
          typeof squidError === 'string' ? squidError : ''
        )
      )
      tunnel.destroy()
    })
    request.once('error', reject)
    request.end()
  })
}
