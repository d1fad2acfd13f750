/**
 * Stage 4 of a request's path: carrying it to the target, straight or through the routed upstream.
 *
 * - Plain HTTP is forwarded here for every route, streaming both ways as bytes arrive (a request body
 *   keeps flowing while the response streams back, server-sent events reach the client per write),
 *   with backpressure, `Expect: 100-continue` relayed, trailers passed on, and the rule's response
 *   header edits applied.
 * - An Upgrade (WebSocket) request is sent the same way; on `101` both sockets are joined.
 * - CONNECT goes straight to the target here, or through an upstream by proxy-chain
 *   (proxy-chain-adapter.ts).
 *
 * Every wait is bounded: reaching the target or upstream (connect timeout), the response's headers
 * (response-headers timeout), and a tunnel or response body with no bytes either way (idle timeout).
 */
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction, Socket } from 'node:net'
import type { JunctionResponse } from './account.ts'
import type { ClientConnection } from './account.ts'
import { connectTarget, joinSockets } from './direct-tunnel.ts'
import {
  rawErrorResponse,
  replyForProxyChainStatus,
  replyForSocketError,
  writeTextReply,
  type ErrorReply,
  type FailureContext
} from './errors.ts'
import { forwardHeaders } from './modify.ts'
import type { UpstreamTunnels } from './proxy-chain-adapter.ts'
import type { Routed } from './route.ts'
import type { Target } from './upstream-connect.ts'

export interface Timeouts {
  connectMs: number
  responseHeadersMs: number
  idleTunnelMs: number
  idleClientMs: number
}

export interface TransportOptions {
  timeouts: Timeouts
  lookup: LookupFunction | undefined
  /** The `Via` value Junction adds, or null when turned off. */
  via: string | null
  /** Keep-alive pool for direct plain-HTTP requests. */
  directAgent: http.Agent
  tunnels: UpstreamTunnels
}

/** Response heads up to this size pass (Node's default, 16 KiB, turned big cookies into errors). */
const MAX_RESPONSE_HEAD = 256 * 1024

/** An error Junction raises itself when a wait runs out. */
class WaitExpired extends Error {
  readonly phase: 'connect' | 'response headers' | 'idle'

  constructor(phase: WaitExpired['phase']) {
    super(`${phase} timeout`)
    this.phase = phase
  }
}

export class Transport {
  private readonly options: TransportOptions

  constructor(options: TransportOptions) {
    this.options = options
  }

  /** Forwards a plain-HTTP request and streams the response back. */
  forwardHttp(req: http.IncomingMessage, res: JunctionResponse, target: Target, routed: Routed): void {
    const failure = failureContext(routed, target)
    // Copies: Node reads a message's rawHeaders again when its `headers` are first asked for.
    const headers = req.rawHeaders.slice()
    res.rewritten = forwardHeaders(headers, routed.rewrite?.request, this.options.via, false)
    const outgoing = this.send(req, headers, target, routed, false, failure, (error) => {
      if (!res.headersSent) return writeTextReply(res, error)
      // The response had started: cutting the client's connection is the only honest signal left.
      res.failure = error.code
      res.destroy()
    })
    outgoing.on('response', (incoming) => {
      if (isUpstreamAuthChallenge(incoming, routed)) {
        incoming.resume()
        return writeTextReply(res, replyForProxyChainStatus(597, '', failure)!)
      }
      const back = incoming.rawHeaders.slice()
      res.rewritten += this.responseHeaders(back, routed, false)
      res.writeHead(incoming.statusCode!, incoming.statusMessage, back)
      incoming.pipe(res, { end: false })
      incoming.once('end', () => {
        if (incoming.rawTrailers.length > 0) res.addTrailers(pairs(incoming.rawTrailers))
        res.end()
      })
      incoming.once('error', () => {
        // The target vanished mid-body (`aborted`); the client must not see a clean end.
        res.failure ??= failure.upstream ? 'upstream-reset' : 'target-reset'
        res.destroy()
      })
    })
    // The origin's `100 Continue` goes to the client, which then sends its body (RFC 9110 §10.1.1).
    outgoing.on('continue', () => res.writeContinue())
    res.once('close', () => {
      if (!res.writableFinished) outgoing.destroy()
    })
    req.pipe(outgoing)
    if (req.headers.expect?.toLowerCase() === '100-continue') outgoing.flushHeaders()
  }

  /** Sends an Upgrade request on; on `101` the client's socket and the target's are joined. */
  forwardUpgrade(
    req: http.IncomingMessage,
    connection: ClientConnection,
    head: Buffer,
    target: Target,
    routed: Routed
  ): void {
    const client = connection.socket
    const failure = failureContext(routed, target)
    const headers = req.rawHeaders.slice()
    const rewritten = forwardHeaders(headers, routed.rewrite?.request, this.options.via, true)
    const outgoing = this.send(req, headers, target, routed, true, failure, (error) => {
      connection.reply = { status: error.status, code: error.code, rewritten }
      if (client.writable) client.end(rawErrorResponse(error))
    })
    outgoing.on('upgrade', (incoming, socket: Socket, upgradeHead: Buffer) => {
      const back = incoming.rawHeaders.slice()
      const total = rewritten + this.responseHeaders(back, routed, true)
      connection.reply = { status: 101, code: null, rewritten: total }
      if (client.destroyed) return socket.destroy()
      client.write(rawHead(101, incoming.statusMessage, back))
      if (upgradeHead.length > 0) client.write(upgradeHead)
      if (head.length > 0) socket.write(head)
      this.holdTunnel(connection, socket)
    })
    outgoing.on('response', (incoming) => {
      // The target declined to switch protocols: its answer is relayed and the connection closed.
      const back = incoming.rawHeaders.slice()
      const total = rewritten + this.responseHeaders(back, routed, false)
      connection.reply = { status: incoming.statusCode!, code: null, rewritten: total }
      client.write(rawHead(incoming.statusCode!, incoming.statusMessage, [...back, 'Connection', 'close']))
      incoming.pipe(client)
    })
    client.once('close', () => outgoing.destroy())
    outgoing.end()
  }

  /** Opens a CONNECT tunnel: straight to the target, or through the routed upstream. */
  openTunnel(
    req: http.IncomingMessage,
    connection: ClientConnection,
    head: Buffer,
    target: Target,
    routed: Routed
  ): void {
    const failure = failureContext(routed, target)
    if (routed.upstream) {
      const client = connection.socket
      // Until proxy-chain has answered, the client waits on the upstream: a connect timeout. Once the
      // tunnel is open, the same timer measures idleness.
      const { connectMs, idleTunnelMs } = this.options.timeouts
      client.setTimeout(connectMs, () => {
        if (client.bytesWritten === 0 && connection.reply === null) {
          const reply = replyForSocketError(
            Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }),
            failure
          )
          connection.reply = { status: reply.status, code: reply.code }
          client.end(rawErrorResponse(reply))
          client.destroySoon()
        } else this.idleClose(connection, idleTunnelMs - connectMs)
      })
      this.options.tunnels.open(req, client, head, routed.upstream, this.options.lookup, failure, (reply) => {
        connection.reply = reply
      })
      return
    }
    void this.openDirectTunnel(connection, head, target, failure)
  }

  private async openDirectTunnel(
    connection: ClientConnection,
    head: Buffer,
    target: Target,
    failure: FailureContext
  ): Promise<void> {
    const client = connection.socket
    let socket: Socket
    try {
      socket = await connectTarget({
        host: target.hostname,
        port: target.port,
        lookup: this.options.lookup,
        timeoutMs: this.options.timeouts.connectMs
      })
    } catch (error) {
      const reply = replyForSocketError(error as NodeJS.ErrnoException, failure)
      connection.reply = { status: reply.status, code: reply.code }
      if (client.writable) {
        client.end(rawErrorResponse(reply))
        client.setTimeout(1000, () => client.destroy()) // a client that never reads cannot hold it open
      }
      return
    }
    if (client.destroyed) return void socket.destroy()
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    if (head.length > 0) socket.write(head)
    this.holdTunnel(connection, socket)
  }

  /** Joins a tunnel's two sockets and closes both after the idle timeout. */
  private holdTunnel(connection: ClientConnection, socket: Socket): void {
    joinSockets(connection.socket, socket)
    // Every byte of a tunnel passes the client's socket, so its idleness is the tunnel's.
    connection.socket.setTimeout(this.options.timeouts.idleTunnelMs, () => this.idleClose(connection, 0))
  }

  /** Closes an idle tunnel, noting why in its log line; `remainingMs` > 0 waits that much longer first. */
  private idleClose(connection: ClientConnection, remainingMs: number): void {
    const client = connection.socket
    if (remainingMs > 0) return void client.setTimeout(remainingMs, () => this.idleClose(connection, 0))
    connection.reply = { ...(connection.reply ?? { status: 200 }), code: 'idle-timeout' }
    client.destroy()
  }

  /**
   * Sends `req` (head now, body as it arrives) toward `target` along `routed`. `fail` gets a readable
   * reply for anything that goes wrong before the response has been relayed.
   */
  private send(
    req: http.IncomingMessage,
    forwarded: string[],
    target: Target,
    routed: Routed,
    upgrade: boolean,
    failure: FailureContext,
    fail: (reply: ErrorReply) => void
  ): http.ClientRequest {
    const { timeouts, lookup } = this.options
    const via = routed.upstream?.requestOptions(target, lookup, upgrade)
    const headers = withHost(forwarded, target)
    const options: http.RequestOptions & https.RequestOptions = {
      method: req.method!,
      setHost: false,
      maxHeaderSize: MAX_RESPONSE_HEAD,
      ...(via
        ? { ...via.options, headers: [...via.extraHeaders, ...headers] }
        : {
            host: target.hostname.replace(/^\[(.*)\]$/, '$1'),
            port: target.port,
            path: pathOf(target.url),
            headers,
            agent: upgrade ? false : this.options.directAgent,
            ...(lookup ? { lookup } : {})
          })
    }
    const outgoing = (via?.secure ? https : http).request(options)
    let answered = false
    outgoing.once('response', () => (answered = true))
    outgoing.once('upgrade', () => (answered = true))
    outgoing.once('socket', (socket) => {
      if (!socket.connecting) return
      const timer = setTimeout(() => outgoing.destroy(new WaitExpired('connect')), timeouts.connectMs)
      socket.once('connect', () => clearTimeout(timer))
      socket.once('close', () => clearTimeout(timer))
    })
    // Quiet for this long before the response's headers: the target is not answering. The timer counts
    // idleness, so a long upload that keeps flowing is not cut; once the response has started it guards
    // a silent body with the tunnel idle timeout.
    outgoing.setTimeout(timeouts.responseHeadersMs, () => {
      outgoing.destroy(new WaitExpired(answered ? 'idle' : 'response headers'))
    })
    outgoing.once('response', () => outgoing.setTimeout(timeouts.idleTunnelMs))
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      // After the answer, failures of the body surface on the response ('error' there).
      if (answered && !(error instanceof WaitExpired)) return
      fail(errorReply(error, failure, timeouts))
    })
    return outgoing
  }

  /** Applies the response-side edits and Via to a response's raw headers; returns edits applied. */
  private responseHeaders(headers: string[], routed: Routed, upgrade: boolean): number {
    return forwardHeaders(headers, routed.rewrite?.response, this.options.via, upgrade)
  }
}

function failureContext(routed: Routed, target: Target): FailureContext {
  return {
    upstream: routed.upstream?.description ?? null,
    target: `${target.hostname.includes(':') && !target.hostname.startsWith('[') ? `[${target.hostname}]` : target.hostname}:${target.port}`
  }
}

/** An upstream HTTP proxy answering 407 to Junction means its credentials for it are wrong. */
function isUpstreamAuthChallenge(incoming: http.IncomingMessage, routed: Routed): boolean {
  const scheme = routed.upstream?.upstream.scheme
  return incoming.statusCode === 407 && (scheme === 'http' || scheme === 'https')
}

function errorReply(error: NodeJS.ErrnoException, failure: FailureContext, timeouts: Timeouts): ErrorReply {
  if (error instanceof WaitExpired && error.phase === 'idle')
    return { status: 504, code: 'idle-timeout', message: `${failure.target} sent nothing for too long.` }
  if (error instanceof WaitExpired) {
    const reply = replyForSocketError(Object.assign(error, { code: 'ETIMEDOUT' }), failure)
    const seconds = error.phase === 'connect' ? timeouts.connectMs / 1000 : timeouts.responseHeadersMs / 1000
    const what = failure.upstream ?? failure.target
    return {
      ...reply,
      message:
        error.phase === 'connect'
          ? `${what} could not be reached within ${seconds} s.`
          : `${what} sent no response within ${seconds} s.`
    }
  }
  if (error.code) return replyForSocketError(error, failure)
  // The SOCKS library reports failures by message only ("Socks5 Authentication failed", …).
  return replyForProxyChainStatus(599, error.message, failure)!
}

/**
 * The client's headers with `Host` set to the target's authority: a proxy must send the target it
 * was asked for, not a Host that disagrees with it (RFC 9112 §3.2.2), and HTTP/1.0 clients may send none.
 */
function withHost(rawHeaders: string[], target: Target): string[] {
  const authority = target.url.slice(target.url.indexOf('//') + 2).split('/')[0]!
  const headers = ['Host', authority]
  for (let i = 0; i < rawHeaders.length; i += 2)
    if (rawHeaders[i]!.toLowerCase() !== 'host') headers.push(rawHeaders[i]!, rawHeaders[i + 1]!)
  return headers
}

/** The origin-form path of an absolute URL: `/path?query`. */
export function pathOf(url: string): string {
  const slash = url.indexOf('/', url.indexOf('//') + 2)
  return slash === -1 ? '/' : url.slice(slash)
}

/** A response head written on a raw socket (Upgrade answers, which have no ServerResponse). */
function rawHead(status: number, message: string | undefined, headers: string[]): string {
  let head = `HTTP/1.1 ${status} ${message ?? http.STATUS_CODES[status] ?? ''}\r\n`
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`
  return `${head}\r\n`
}

/** `[name, value, name, value]` as the pairs `addTrailers` takes. */
function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = []
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!])
  return out
}
