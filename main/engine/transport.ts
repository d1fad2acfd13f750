/**
 * Stage 4 of a request's path: carrying it to the target, straight or through the routed upstream.
 *
 * - Plain HTTP is forwarded here for every route, streaming both ways as bytes arrive (a request body
 *   keeps flowing while the response streams back, server-sent events reach the client per write),
 *   with backpressure, `Expect: 100-continue` relayed, trailers passed on both ways, and the rule's
 *   response header edits applied.
 * - An Upgrade (WebSocket) request is sent the same way; on `101` both sockets are joined.
 * - CONNECT goes straight to the target or through a SOCKS upstream here, and through an HTTP/HTTPS
 *   upstream by proxy-chain (proxy-chain-adapter.ts).
 * - Through a group (groups.ts), a member that fails before the client got any byte hands over to the
 *   next member: CONNECT tunnels are then opened here for every kind of member (proxy-chain answers
 *   the client itself, so it could not try another), and plain-HTTP requests move on when they can be
 *   sent again whole — an idempotent method without a body. A body already sent is never sent twice.
 *
 * Every wait is bounded: reaching the target or upstream (connect timeout), the response's headers
 * (response-headers timeout), and a tunnel or response body with no bytes either way (idle timeout).
 * A connection that turns out to lead back to Junction itself is refused (loop-guard.ts).
 */
import http from 'node:http'
import https from 'node:https'
import net, { type LookupFunction, type Socket } from 'node:net'
import type { ClientConnection, JunctionResponse } from './account.ts'
import { ChainError } from './chain.ts'
import type { TunnelRequest } from './connect-head.ts'
import { DirectLane, type LaneCall } from './direct-lane.ts'
import { closeTogether, connectTarget, countStreamed, joinSockets } from './direct-tunnel.ts'
import { bareHost, hostPort } from './host.ts'
import {
  ERROR_HEADER,
  Refused,
  endRaw,
  isCertificateError,
  replyForCertificateError,
  replyForUpstreamCertificate,
  replyForOversizedHead,
  rawErrorResponse,
  replyForProxyChainStatus,
  replyForSocketError,
  writeTextReply,
  type ErrorReply,
  type FailureContext
} from './errors.ts'
import { beginExchange, keep, type Exchange, type ExchangeObserver } from './capture.ts'
import type { IdleTunnels } from './idle-tunnels.ts'
import type { Interceptor } from './intercept.ts'
import type { LoopGuard } from './loop-guard.ts'
import { forwardHeaders, removeAll } from './modify.ts'
import { noteStreamed } from '../stats/memory-return.ts'
import { BODY_EDIT_LIMIT, collect, editBody, isEditableText, type Collected } from './body-transform.ts'
import { bodyEditor, type TextEdit } from '../rules/body-edits.ts'
import type { UpstreamTunnels } from './proxy-chain-adapter.ts'
import { memberCarried, memberFailed, nextMember, type Routed } from './route.ts'
import type { OwnedRequestOptions, Target } from './upstream-connect.ts'

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
  loop: LoopGuard
  idle: IdleTunnels
  /** Keep-alive pool of TLS connections straight to targets (intercepted HTTPS), verified as browsers do. */
  directTlsAgent: https.Agent
  /** Certificate authorities trusted for targets besides the default store; null for the default only. */
  trustedCas: string[] | null
  /** Opens tunnels whose rule intercepts them; null when no local CA is available. */
  interceptor: Interceptor | null
  /** Sees each forwarded HTTP exchange while it records (the Inspect view); null for none. */
  observer: ExchangeObserver | null
  /** A group's request or tunnel on this client socket moved to another member (statistics). */
  rerouted: (socket: Socket, label: string) => void
}

/**
 * Response heads up to this size pass, as request heads do (engine.ts) and as Squid's
 * `reply_header_max_size` allows; Node's default, 16 KiB, turned big cookies into errors. A larger one
 * is answered `502 response-headers-too-large`.
 */
const MAX_RESPONSE_HEAD = 64 * 1024
/** The longest a tunnel's target may stay quiet once its client has half-closed (closeTogether). */
export const HALF_CLOSED_TUNNEL_MS = 10_000
/** Methods safe to send again when a pooled connection turns out closed (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/** What a caller of `send` does with the outcomes of one forwarded request. */
interface Outcome {
  /** The answer, and the route that carried it (a group's member may differ from the one first tried). */
  response?: (incoming: http.IncomingMessage, carrier: Routed) => void
  upgrade?: (incoming: http.IncomingMessage, socket: Socket, head: Buffer) => void
  /** The origin's `100 Continue`. */
  continued?: () => void
  /** A failure before the answer was relayed, in words for the client. */
  fail: (reply: ErrorReply) => void
  /** The request was sent again on a new outgoing request (a closed pooled connection, a group's next member). */
  resent?: (outgoing: http.ClientRequest) => void
}

export class Transport {
  private readonly options: TransportOptions
  /** How long a tunnel's target may stay quiet after its client half-closed (direct-tunnel.ts). */
  private readonly finishMs: number
  private readonly lane: DirectLane

  constructor(options: TransportOptions) {
    this.options = options
    this.finishMs = Math.min(options.timeouts.idleTunnelMs, HALF_CLOSED_TUNNEL_MS)
    const { timeouts, lookup, loop } = options
    this.lane = new DirectLane({
      connect: async (host, port, owner) => {
        const socket = await connectTarget({
          host,
          port,
          lookup,
          timeoutMs: timeouts.connectMs,
          owner: owner ?? undefined
        })
        socket.setNoDelay(true)
        if (!loop.isOwnSocket(socket, port)) return socket
        socket.destroy()
        throw new Refused('loop')
      },
      responseHeadersMs: timeouts.responseHeadersMs,
      idleMs: timeouts.idleTunnelMs,
      maxResponseHead: MAX_RESPONSE_HEAD
    })
  }

  /** Closes the direct lane's pooled connections (the engine stopped). */
  close(): Promise<void> {
    return this.lane.close()
  }

  /** Forwards a plain-HTTP request and streams the response back. */
  forwardHttp(req: http.IncomingMessage, res: JunctionResponse, target: Target, routed: Routed): void {
    const bodyEdits = routed.rewrite?.requestBody
    if (bodyEdits?.length && hasBody(req) && isEditableText(req.headers['content-type']))
      return void this.forwardEditedRequest(req, res, target, routed, bodyEditor(bodyEdits))
    this.forward(req, res, target, routed, null)
  }

  /**
   * A request whose text body the rule edits: collected up to the limit (the client is told to go on
   * first if it waits for `100 Continue`), edited and sent with its new length; a larger body is sent
   * on unchanged, its log line saying so.
   */
  private async forwardEditedRequest(
    req: http.IncomingMessage,
    res: JunctionResponse,
    target: Target,
    routed: Routed,
    edit: TextEdit
  ): Promise<void> {
    if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue()
    let collected: Collected
    try {
      collected = await collect(req, BODY_EDIT_LIMIT)
    } catch {
      return void res.destroy()
    }
    if (!collected.complete) {
      res.failure = 'body-not-edited'
      return this.forward(req, res, target, routed, { prefix: collected.buffered })
    }
    const edited = editBody(collected.body, req.headers['content-encoding'], edit, BODY_EDIT_LIMIT)
    if (edited) res.rewritten++
    this.forward(req, res, target, routed, { whole: edited ?? collected.body })
  }

  /**
   * Sends a request on and streams the response back. `body` is the request body when it was read
   * here already: `whole` (edited or not, sent with its length) or the `prefix` read before the rest.
   */
  private forward(
    req: http.IncomingMessage,
    res: JunctionResponse,
    target: Target,
    routed: Routed,
    body: { whole: Buffer } | { prefix: Buffer[] } | null
  ): void {
    let failure = failureContext(routed, target)
    // Copies: Node reads a message's rawHeaders again when its `headers` are first asked for.
    const headers = req.rawHeaders.slice()
    res.rewritten += forwardHeaders(headers, routed.rewrite?.request, this.options.via, false)
    if (body && 'whole' in body) {
      removeAll(headers, 'content-length')
      headers.push('Content-Length', String(body.whole.length))
    } else if (req.headers['transfer-encoding'] !== undefined) {
      // A body the client framed with chunks keeps that framing; without it, Node would send the bytes
      // of a GET's body unframed and the next hop would read them as another request (smuggling).
      headers.push('Transfer-Encoding', 'chunked')
    }
    const exchange = beginExchange(this.options.observer, req, target, routed, headers)
    if (exchange && body)
      for (const chunk of 'whole' in body ? [body.whole] : body.prefix)
        keep(exchange.requestBody, chunk, this.options.observer!.previewBytes)
    if (exchange) res.once('close', () => this.finishExchange(exchange, res))
    if (!body && this.forLane(req, target, routed)) {
      const sentOn = this.sendDirect(req, res, headers, target, routed, failure, exchange)
      if (sentOn) return void (res.outgoing = sentOn)
    }
    const expectsContinue = !body && req.headers.expect?.toLowerCase() === '100-continue'
    const outgoing = this.send(req, headers, target, routed, false, failure, {
      response: (incoming, carrier) => {
        if (carrier !== routed) failure = failureContext(carrier, target)
        const refused = upstreamRefusedCredentials(incoming, carrier, failure)
        if (refused) return writeTextReply(res, refused)
        const back = incoming.rawHeaders.slice()
        res.rewritten += forwardHeaders(back, routed.rewrite?.response, this.options.via, false)
        if (exchange) this.recordResponse(exchange, incoming, back)
        const bodyEdits = routed.rewrite?.responseBody
        if (bodyEdits?.length && editable(req, incoming))
          return void this.relayEdited(res, incoming, back, bodyEditor(bodyEdits), failure)
        try {
          res.writeHead(incoming.statusCode!, incoming.statusMessage, back)
        } catch (error) {
          // Node refuses to send what the target sent: a status outside 100–999, a control character.
          incoming.destroy()
          return writeTextReply(res, badResponse(failure, (error as Error).message))
        }
        relayBody(incoming, res, failure)
      },
      // The origin's `100 Continue` goes to a client that asked for it (RFC 9110 §10.1.1).
      continued: expectsContinue ? () => res.writeContinue() : undefined,
      fail: (reply) => {
        if (!res.headersSent) return writeTextReply(res, reply)
        // The response had started: cutting the client's connection is the only honest signal left.
        res.failure = reply.code
        res.destroy()
      },
      resent: (again) => (res.outgoing = again)
    })
    res.outgoing = outgoing
    if (body && 'whole' in body) return void outgoing.end(body.whole)
    // A request without a body (most are) is sent whole now: no pipe to set up and take down, and its
    // head leaves in one write. Node reads past it for the connection's next request.
    if (!body && !expectsContinue && !hasBody(req)) return void outgoing.end()
    for (const chunk of body?.prefix ?? []) outgoing.write(chunk)
    // Registered before pipe(), so trailers are added before pipe ends the outgoing request.
    req.once('end', () => {
      if (req.rawTrailers.length > 0) outgoing.addTrailers(pairs(req.rawTrailers))
    })
    req.pipe(outgoing)
    req.on('data', noteStreamed)
    if (expectsContinue) outgoing.flushHeaders()
  }

  /**
   * Whether a request takes the direct lane (direct-lane.ts): straight to a plain-HTTP target, with
   * no body, no `Expect`, and no rule that edits the response's body.
   */
  private forLane(req: http.IncomingMessage, target: Target, routed: Routed): boolean {
    return (
      !routed.upstream &&
      !routed.group &&
      !target.secure &&
      req.headers.expect === undefined &&
      !hasBody(req) &&
      !routed.rewrite?.responseBody?.length
    )
  }

  /** Sends a request over the direct lane; null when the lane would not send its head as it is. */
  private sendDirect(
    req: http.IncomingMessage,
    res: JunctionResponse,
    headers: string[],
    target: Target,
    routed: Routed,
    failure: FailureContext,
    exchange: Exchange | null
  ): { destroy(): void } | null {
    const { via, observer, loop, timeouts } = this.options
    const call: LaneCall = {
      head: (status, message, back) => {
        res.rewritten += forwardHeaders(back, routed.rewrite?.response, via, false)
        if (exchange) {
          exchange.status = status
          exchange.responseHeaders = back
        }
        try {
          res.writeHead(status, message, back)
          return true
        } catch (error) {
          // Node refuses to send what the target sent: a status outside 100–999, a control character.
          writeTextReply(res, badResponse(failure, (error as Error).message))
          return false
        }
      },
      chunk: exchange ? (chunk) => keep(exchange.responseBody, chunk, observer!.previewBytes) : null,
      fail: (error) => {
        const reply = errorReply(error, failure, target, loop, timeouts)
        if (!res.headersSent) return writeTextReply(res, reply)
        // The response had started: cutting the client's connection is the only honest signal left.
        res.failure = reply.code
        res.destroy()
      },
      replayable: replayable(req)
    }
    const origin = `http://${hostPort(target.hostname, target.port)}`
    return this.lane.send(res, origin, target.path, req.method!, ['Host', target.authority, ...headers], call)
  }

  /**
   * Relays a response whose body the rule edits (body-transform.ts): collected up to the limit, edited,
   * sent with its new length; a larger body is sent on unchanged and its log line says so.
   */
  private async relayEdited(
    res: JunctionResponse,
    incoming: http.IncomingMessage,
    headers: string[],
    edit: TextEdit,
    failure: FailureContext
  ): Promise<void> {
    let collected: Collected
    try {
      collected = await collect(incoming, BODY_EDIT_LIMIT)
    } catch {
      res.failure ??= failure.upstream ? 'upstream-reset' : 'target-reset'
      return void res.destroy()
    }
    if (res.destroyed) return
    if (!collected.complete) {
      res.failure = 'body-not-edited'
      res.writeHead(incoming.statusCode!, incoming.statusMessage, headers)
      for (const chunk of collected.buffered) res.write(chunk)
      incoming.pipe(res)
      incoming.on('data', noteStreamed)
      incoming.resume()
      return
    }
    const edited = editBody(collected.body, incoming.headers['content-encoding'], edit, BODY_EDIT_LIMIT)
    const body = edited ?? collected.body
    removeAll(headers, 'content-length')
    if (edited) {
      res.rewritten++
      // The validator named the old body; a cache must not pair it with the new one.
      removeAll(headers, 'etag')
    }
    headers.push('Content-Length', String(body.length))
    try {
      res.writeHead(incoming.statusCode!, incoming.statusMessage, headers)
    } catch (error) {
      return writeTextReply(res, badResponse(failure, (error as Error).message))
    }
    res.end(body)
  }

  private recordResponse(exchange: Exchange, incoming: http.IncomingMessage, headers: string[]): void {
    const observer = this.options.observer!
    exchange.status = incoming.statusCode!
    exchange.responseHeaders = headers
    incoming.on('data', (chunk: Buffer) => keep(exchange.responseBody, chunk, observer.previewBytes))
  }

  private finishExchange(exchange: Exchange, res: JunctionResponse): void {
    exchange.durationMs = Date.now() - exchange.at
    // Junction's own answers (errors, blocks) and cut responses carry their code.
    const code = res.failure ?? res.getHeader(ERROR_HEADER)
    exchange.error = typeof code === 'string' ? code : null
    if (exchange.status === null && res.headersSent) exchange.status = res.statusCode
    this.options.observer!.finished(exchange)
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
    // Until the switch, a client that closes its side has left, as with a tunnel not yet open.
    client.once('end', abandonTunnel)
    const failure = failureContext(routed, target)
    const headers = req.rawHeaders.slice()
    const rewritten = forwardHeaders(headers, routed.rewrite?.request, this.options.via, true)
    let answered = false
    let outgoing = this.send(req, headers, target, routed, true, failure, {
      upgrade: (incoming, socket, upgradeHead) => {
        answered = true
        const back = incoming.rawHeaders.slice()
        const total = rewritten + forwardHeaders(back, routed.rewrite?.response, this.options.via, true)
        connection.reply = { status: 101, code: null, rewritten: total }
        if (client.destroyed) return void socket.destroy()
        client.write(rawHead(101, incoming.statusMessage, back))
        if (upgradeHead.length > 0) client.write(upgradeHead)
        if (head.length > 0) socket.write(head)
        this.holdTunnel(connection, socket)
      },
      response: (incoming, carrier) => {
        answered = true
        const refused = upstreamRefusedCredentials(incoming, carrier, failureContext(carrier, target))
        if (refused) {
          connection.reply = { status: refused.status, code: refused.code, rewritten }
          return endRaw(client, rawErrorResponse(refused))
        }
        // The target declined to switch protocols: its answer is relayed and the connection closed.
        const back = incoming.rawHeaders.slice()
        const total = rewritten + forwardHeaders(back, routed.rewrite?.response, this.options.via, false)
        connection.reply = { status: incoming.statusCode!, code: null, rewritten: total }
        client.write(rawHead(incoming.statusCode!, incoming.statusMessage, [...back, 'Connection', 'close']))
        incoming.pipe(client)
        incoming.once('error', () => client.destroy())
      },
      fail: (reply) => {
        // Once an answer is on its way, a second one would corrupt it: close instead.
        if (answered) return void client.destroy()
        connection.reply = { status: reply.status, code: reply.code, rewritten }
        endRaw(client, rawErrorResponse(reply))
      },
      resent: (again) => (outgoing = again)
    })
    client.once('close', () => outgoing.destroy())
    outgoing.end()
  }

  /**
   * Where a forwarded request goes and how: straight to the target; to an HTTP/HTTPS upstream in
   * absolute form; over a SOCKS connection; or, for HTTPS inside an intercepted tunnel, over TLS to
   * the target (through the upstream's tunnel when routed so), verified for the name the client asked
   * for against the default trust store (system roots and NODE_EXTRA_CA_CERTS) and any extra CAs.
   * `owner` is the client's socket: the upstream agents give up a connection they are still opening
   * when it closes.
   */
  private destination(
    target: Target,
    routed: Routed,
    upgrade: boolean,
    sent: string[],
    owner: Socket
  ): OwnedRequestOptions {
    const { lookup, trustedCas } = this.options
    const host = bareHost(target.hostname)
    if (target.secure) {
      const servername = target.servername ?? (net.isIP(host) ? undefined : host)
      return {
        host,
        port: target.port,
        path: target.path,
        headers: sent,
        agent: routed.upstream ? routed.upstream.tlsAgent : upgrade ? false : this.options.directTlsAgent,
        ...(servername ? { servername } : {}),
        ...(trustedCas ? { ca: trustedCas } : {}),
        ...(lookup && !routed.upstream ? { lookup } : {}),
        ...(routed.upstream ? { owner } : {})
      }
    }
    const through = routed.upstream?.requestOptions(target, upgrade, owner)
    if (through) return { ...through.options, headers: [...through.extraHeaders, ...sent] }
    // Built without spreads: copying properties in is a runtime call on every forwarded request.
    const direct: OwnedRequestOptions = {
      host,
      port: target.port,
      path: target.path,
      headers: sent,
      agent: upgrade ? false : this.options.directAgent
    }
    if (lookup) direct.lookup = lookup
    return direct
  }

  /** Opens a CONNECT tunnel: straight to the target, or through the routed upstream. */
  openTunnel(
    req: TunnelRequest,
    connection: ClientConnection,
    head: Buffer,
    target: Target,
    routed: Routed
  ): void {
    if (routed.intercept && this.options.interceptor) {
      this.options.idle.add(connection)
      return this.options.interceptor.open(connection, head, target, routed)
    }
    const failure = failureContext(routed, target)
    const upstream = routed.upstream
    if (upstream?.viaProxyChain && !routed.group) {
      const client = connection.socket
      client.once('end', abandonTunnel)
      // Until the upstream has answered the CONNECT, the client waits on it: a connect timeout.
      client.setTimeout(this.options.timeouts.connectMs, () => {
        if (connection.reply) return void client.destroy() // the upstream's error has been sent
        this.refuse(connection, replyForTimeout(failure, 'tunnel', this.options.timeouts))
      })
      this.options.tunnels.open(req, client, head, upstream, this.options.lookup, failure, {
        told: (reply) => (connection.reply = reply),
        opened: (socket) => {
          client.setTimeout(0)
          client.removeListener('end', abandonTunnel)
          closeTogether(client, socket, this.finishMs)
          // proxy-chain pipes the pair right after this event, in the same tick.
          countStreamed(client, socket)
          this.options.idle.add(connection)
        }
      })
      return
    }
    void this.openOwnTunnel(connection, head, target, routed, failure)
  }

  /**
   * Joins an intercepted tunnel whose first bytes are neither TLS nor HTTP to its target, unchanged:
   * the client was answered already, so a failure closes the connection.
   */
  passThrough(connection: ClientConnection, first: Buffer, target: Target, routed: Routed): void {
    void this.reach(target, routed, connection.socket).then(
      (socket) => {
        if (connection.socket.destroyed) return void socket.destroy()
        socket.write(first)
        joinSockets(connection.socket, socket, this.finishMs)
        connection.socket.resume()
      },
      () => connection.socket.destroy()
    )
  }

  /**
   * A TCP connection to the target: straight, or through the routed upstream. Given up as soon as
   * `owner` (the client waiting for it) closes.
   */
  private reach(target: Target, routed: Routed, owner?: Socket): Promise<Socket> {
    const { timeouts, lookup } = this.options
    return routed.upstream
      ? routed.upstream.openTunnel(target, owner)
      : connectTarget({
          host: target.hostname,
          port: target.port,
          lookup,
          timeoutMs: timeouts.connectMs,
          owner,
          relayed: true
        })
  }

  /**
   * A tunnel Junction opens itself: straight to the target, through a SOCKS upstream, or through a
   * group's members in turn until one connects.
   */
  private async openOwnTunnel(
    connection: ClientConnection,
    head: Buffer,
    target: Target,
    routed: Routed,
    failure: FailureContext
  ): Promise<void> {
    const client = connection.socket
    const { timeouts, loop } = this.options
    client.once('end', abandonTunnel)
    let socket: Socket
    for (;;) {
      try {
        socket = await this.reach(target, routed, client)
        memberCarried(routed)
        break
      } catch (error) {
        // A client that left was told nothing; its log entry says so (status 0).
        if (client.destroyed) return
        const reply = errorReply(error as NodeJS.ErrnoException, failure, target, loop, timeouts)
        const next = nextMember(routed, reply)
        if (!next) return this.refuse(connection, reply)
        this.options.rerouted(client, next.label)
        routed = next
        failure = failureContext(next, target)
      }
    }
    if (!routed.upstream && loop.isOwnSocket(socket, target.port)) {
      socket.destroy()
      return this.refuse(connection, loop.reply(target))
    }
    if (client.destroyed) return void socket.destroy()
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    if (head.length > 0) socket.write(head)
    this.holdTunnel(connection, socket)
  }

  /** Answers a tunnel's client with an error and closes its connection. */
  private refuse(connection: ClientConnection, reply: ErrorReply): void {
    connection.reply = { status: reply.status, code: reply.code }
    endRaw(connection.socket, rawErrorResponse(reply))
  }

  /** Joins a tunnel's two sockets; both close after the idle timeout (idle-tunnels.ts). */
  private holdTunnel(connection: ClientConnection, socket: Socket): void {
    // From now on a client's half-close is passed on to the target, no longer a sign it left.
    connection.socket.removeListener('end', abandonTunnel)
    joinSockets(connection.socket, socket, this.finishMs)
    // Every byte of a tunnel passes the client's socket, so its idleness is the tunnel's.
    this.options.idle.add(connection)
  }

  /**
   * Sends `req` (head now, body as it arrives) toward `target` along `routed`, with `headers` as
   * prepared by modify.ts. A bodiless idempotent request that meets a pooled connection the other end
   * had just closed is sent once more on a new one, as browsers do.
   */
  private send(
    req: http.IncomingMessage,
    headers: string[],
    target: Target,
    routed: Routed,
    upgrade: boolean,
    failure: FailureContext,
    outcome: Outcome,
    retried = false
  ): http.ClientRequest {
    const { timeouts, loop } = this.options
    const sent = ['Host', target.authority, ...headers]
    const options = this.destination(target, routed, upgrade, sent, req.socket)
    options.method = req.method!
    options.setHost = false
    options.maxHeaderSize = MAX_RESPONSE_HEAD
    // Quiet for this long before the response's headers: the target is not answering. As an option,
    // Node arms the socket's own timer when it hands the socket over (no listeners per request to
    // wait for the socket). The timer counts idleness, so a long upload that keeps flowing is not cut;
    // once the response has started it guards a silent body with the tunnel idle timeout. It also
    // fires while the connection is being made (a pooled socket's idle timeout, POOL's 4 s, and this
    // one once TCP is up): that phase is not its own.
    options.timeout = timeouts.responseHeadersMs
    // TLS to the target (intercepted HTTPS) or to an HTTPS upstream proxy.
    const secure = target.secure === true || routed.upstream?.upstream.scheme === 'https'
    const outgoing = (secure ? https : http).request(options)
    let answered = false
    // Until the connection is made (TCP, and the TLS handshake over TLS), only the connect timer runs.
    let connected = true
    // A pooled connection the agent handed over at once (it says so before the request returns) is
    // connected already: most keep-alive requests need no listener for this.
    if (!outgoing.reusedSocket)
      outgoing.once('socket', (socket) => {
        if (!socket.connecting) return
        connected = false
        const timer = setTimeout(() => outgoing.destroy(new Refused('connect')), timeouts.connectMs)
        // Over TLS the connection is made once the handshake is done: a peer that accepts TCP and never
        // answers the handshake is one that could not be reached.
        socket.once(secure ? 'secureConnect' : 'connect', () => {
          clearTimeout(timer)
          connected = true
          if (!routed.upstream && loop.isOwnSocket(socket, target.port)) outgoing.destroy(new Refused('loop'))
        })
        socket.once('close', () => clearTimeout(timer))
      })
    outgoing.on('timeout', () => {
      if (connected) outgoing.destroy(new Refused(answered ? 'idle' : 'response headers'))
    })
    // Through a group, a request the next member could carry waits for the start of an answer only as
    // long as for a connection, unless its member answered lately: a proxy that accepts and then says
    // nothing cannot be told apart from a slow target otherwise, and the next member may well answer.
    const group = routed.group
    const handover =
      group?.rest.length && replayable(req) && group.router.suspectSilence(routed.upstream!)
        ? setTimeout(() => outgoing.destroy(new Refused('unanswered')), timeouts.connectMs)
        : undefined
    if (handover) outgoing.once('close', () => clearTimeout(handover))
    outgoing.once('response', (incoming) => {
      answered = true
      if (group) {
        clearTimeout(handover)
        memberCarried(routed)
      }
      outgoing.setTimeout(timeouts.idleTunnelMs)
      outcome.response?.(incoming, routed)
    })
    outgoing.once('upgrade', (incoming, socket: Socket, head: Buffer) => {
      answered = true
      if (group) {
        clearTimeout(handover)
        memberCarried(routed)
      }
      if (outcome.upgrade) return outcome.upgrade(incoming, socket, head)
      // A switch the request did not ask for (its Upgrade header was not sent on): Node hands the
      // socket over and reports nothing else, so without this the client would wait for ever.
      socket.destroy()
      outcome.fail(badResponse(failure, 'it switched protocols unasked'))
    })
    if (outcome.continued) outgoing.on('continue', outcome.continued)
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      // After the answer, failures of the body surface on the response ('error' there).
      if (answered && !(error instanceof Refused)) return
      if (!answered && !retried && outgoing.reusedSocket && error.code === 'ECONNRESET' && replayable(req)) {
        const again = this.send(req, headers, target, routed, upgrade, failure, outcome, true)
        outcome.resent?.(again)
        return void again.end()
      }
      const reply = errorReply(error, failure, target, loop, timeouts)
      // A group's member that could not be reached, or reset the request before answering: a request
      // that can be sent again whole goes to the next member. (A response-headers timeout means the
      // member took the request; the target behind it is slow.)
      const unanswered =
        !answered &&
        (!(error instanceof Refused) || error.reason === 'connect' || error.reason === 'unanswered')
      if (unanswered && replayable(req)) {
        const next = nextMember(routed, reply)
        if (next) {
          this.options.rerouted(req.socket, next.label)
          const again = this.send(req, headers, target, next, upgrade, failureContext(next, target), outcome)
          outcome.resent?.(again)
          return void again.end()
        }
      } else if (unanswered) memberFailed(routed, reply)
      outcome.fail(reply)
    })
    return outgoing
  }
}

/**
 * Streams a response's body to the client, with backpressure, then its trailers. What `pipe()` would
 * do for this one source and destination, without the seven listeners it adds to both and removes
 * again at the end (about 5 % of the CPU of a small keep-alive response, BENCHMARKS.md): a client that
 * leaves closes the response, which stops the outgoing request (JunctionResponse), so nothing here
 * needs to watch the client.
 */
function relayBody(incoming: http.IncomingMessage, res: JunctionResponse, failure: FailureContext): void {
  let waiting = false
  const resume = (): void => {
    waiting = false
    incoming.resume()
  }
  incoming.on('data', (chunk: Buffer) => {
    noteStreamed(chunk)
    if (res.write(chunk) || waiting) return
    waiting = true
    incoming.pause()
    res.once('drain', resume)
  })
  incoming.once('end', () => {
    if (incoming.rawTrailers.length > 0) res.addTrailers(pairs(incoming.rawTrailers))
    res.end()
  })
  incoming.once('error', () => {
    // The target vanished mid-body (`aborted`); the client must not see a clean end.
    res.failure ??= failure.upstream ? 'upstream-reset' : 'target-reset'
    res.destroy()
  })
}

/**
 * A tunnel's client that closes its side before the tunnel is open has given up on it (as Squid's
 * `half_closed_clients off` reads it): its socket is closed, which also ends the attempt to reach the
 * target or upstream for it. Node keeps the half-closed socket open otherwise.
 */
function abandonTunnel(this: Socket): void {
  this.destroy()
}

/** Whether a request says it has a body (a length above zero, or chunks). */
function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/** A response whose body a rule may edit: text, and a body there is (not HEAD, 204 or 304). */
function editable(req: http.IncomingMessage, incoming: http.IncomingMessage): boolean {
  const status = incoming.statusCode!
  return (
    req.method !== 'HEAD' &&
    status !== 204 &&
    status !== 304 &&
    status >= 200 &&
    isEditableText(incoming.headers['content-type'])
  )
}

/** A request with no body, whose method may be repeated. */
function replayable(req: http.IncomingMessage): boolean {
  return IDEMPOTENT.has(req.method!) && !hasBody(req)
}

function failureContext(routed: Routed, target: Target): FailureContext {
  return { upstream: routed.upstream?.description ?? null, target: target.authority }
}

/**
 * An upstream HTTP proxy answering 407 means Junction's credentials for it are wrong: that is the
 * reply for the client (the 407 itself is drained). Null for any other response.
 */
function upstreamRefusedCredentials(
  incoming: http.IncomingMessage,
  routed: Routed,
  failure: FailureContext
): ErrorReply | null {
  const scheme = routed.upstream?.upstream.scheme
  if (incoming.statusCode !== 407 || (scheme !== 'http' && scheme !== 'https')) return null
  incoming.resume()
  return replyForProxyChainStatus(597, '', failure)
}

/**
 * A wait that ran out, by phase: `connect`, the TCP (and TLS) connection to the first hop; `tunnel`, a
 * connection to the target through an upstream (SOCKS, or CONNECT through an HTTP/HTTPS upstream),
 * where Junction cannot tell whether the upstream or the target behind it was slow; `response
 * headers`, the answer to a request sent.
 */
function replyForTimeout(
  failure: FailureContext,
  phase: 'connect' | 'unanswered' | 'tunnel' | 'response headers',
  timeouts: Timeouts
): ErrorReply {
  const reply = replyForSocketError(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }), failure)
  const what = failure.upstream ?? failure.target
  const connectS = timeouts.connectMs / 1000
  const message =
    phase === 'response headers'
      ? `${what} sent no response within ${timeouts.responseHeadersMs / 1000} s.`
      : phase === 'tunnel' && failure.upstream
        ? `No connection to ${failure.target} through ${failure.upstream} within ${connectS} s.`
        : phase === 'unanswered'
          ? `${what} sent nothing within ${connectS} s.`
          : `${what} could not be reached within ${connectS} s.`
  return { ...reply, message }
}

function badResponse(failure: FailureContext, why: string): ErrorReply {
  return failure.upstream
    ? {
        status: 502,
        code: 'upstream-bad-response',
        message: `${failure.upstream} sent an invalid response (${why}).`
      }
    : { status: 502, code: 'target-error', message: `${failure.target} sent an invalid response (${why}).` }
}

function errorReply(
  error: NodeJS.ErrnoException,
  failure: FailureContext,
  target: Target,
  loop: LoopGuard,
  timeouts: Timeouts
): ErrorReply {
  // A chain of upstreams says itself which hop failed and why.
  if (error instanceof ChainError) return error.reply
  if (error instanceof Refused) {
    if (error.reason === 'loop') return loop.reply(target)
    if (error.reason === 'upgrade') return badResponse(failure, 'it switched protocols unasked')
    if (error.reason === 'idle')
      return { status: 504, code: 'idle-timeout', message: `${failure.target} sent nothing for too long.` }
    return replyForTimeout(failure, error.reason, timeouts)
  }
  if (error.code && isCertificateError(error.code))
    // Outside an intercepted tunnel the only TLS Junction speaks is to an HTTPS upstream.
    return failure.upstream && !target.secure
      ? replyForUpstreamCertificate(error, failure)
      : replyForCertificateError(error, failure)
  if (error.code === 'HPE_HEADER_OVERFLOW') return replyForOversizedHead(failure, MAX_RESPONSE_HEAD)
  // Node's parser refused the answer: it was no valid HTTP response, not a failure to connect.
  if (error.code?.startsWith('HPE_')) return badResponse(failure, error.code)
  // A connect attempt that ran out (connectTarget, a SOCKS handshake, an upstream's CONNECT) says how
  // long it waited.
  if (error.code === 'ETIMEDOUT') return replyForTimeout(failure, 'tunnel', timeouts)
  if (error.code) return replyForSocketError(error, failure)
  // The SOCKS library reports failures by message only ("Socks5 Authentication failed", …).
  return replyForProxyChainStatus(599, error.message, failure)!
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
