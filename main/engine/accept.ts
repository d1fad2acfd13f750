/**
 * Stage 1 of a request's path, and the path itself. Every request Junction's server receives enters
 * here as one of four kinds, and each handler below reads as the stages it goes through:
 *
 *   accept (credentials, target, loop check) → route → account → modify (answer or edit) → transport
 *
 * - plain HTTP with an absolute URI (`GET http://host/path`), including `Expect: 100-continue`;
 * - origin-form requests (`GET /proxy.pac`) are for Junction itself;
 * - CONNECT (`CONNECT host:443`) opens a tunnel;
 * - Upgrade (`GET http://host/ws` with `Upgrade: websocket`) switches protocols into a tunnel.
 */
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Accounting, ClientConnection, JunctionResponse } from './account.ts'
import type { TunnelRequest } from './connect-head.ts'
import {
  badConnectTarget,
  badHttpTarget,
  missingHost,
  replyForParseError,
  unsupportedTransferCoding,
  versionProblem
} from './bad-requests.ts'
import { endRaw, rawErrorResponse, writeTextReply, type ErrorReply } from './errors.ts'
import type { Intercepted, Interceptor } from './intercept.ts'
import type { LoopGuard } from './loop-guard.ts'
import { answerHttp, answerRaw } from './modify.ts'
import { route, routeAgain, routeInside, type Routed, type Routing } from './route.ts'
import type { Transport } from './transport.ts'
import type { Target } from './upstream-connect.ts'
import { servePac, type PacPublisher } from '../sysproxy/pac.ts'

export interface ProxyAuth {
  username: string
  password: string
}

export interface AcceptDeps {
  auth: ProxyAuth | null
  /** The routing in force when a request arrives (profile switches swap it). */
  routing: () => Routing
  accounting: Accounting
  transport: Transport
  loop: LoopGuard
  pac: PacPublisher | null
  interceptor: Interceptor | null
}

const CHALLENGE = 'Proxy-Authenticate'
const AUTH_REQUIRED: ErrorReply = {
  status: 407,
  code: 'proxy-auth-required',
  message: 'Junction requires a proxy username and password.'
}

export class Accept {
  private readonly deps: AcceptDeps

  constructor(deps: AcceptDeps) {
    this.deps = deps
  }

  /** A plain-HTTP request: for a target (absolute URI) or for Junction itself (origin form). */
  onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const connection = this.deps.accounting.connection(req.socket)
    connection.latest = res
    const malformed = versionProblem(req) ?? missingHost(req) ?? unsupportedTransferCoding(req)
    // Nothing more this client sends on the connection can be framed with confidence: it closes.
    if (malformed) return void writeTextReply(res, malformed, { Connection: 'close' })
    if (req.url?.startsWith('/')) return this.serveOwn(req, res)
    const response = res as JunctionResponse
    if (!this.authorized(req))
      return void writeTextReply(res, AUTH_REQUIRED, { [CHALLENGE]: 'Basic realm="Junction"' })
    // A keep-alive client often asks for the same URL again: parsed once (a URL maps to one target).
    const url = req.url!
    const recent = connection.recent
    const target = recent !== null && recent.url === url ? recent.target : parseHttpTarget(url)
    if (!target) return void writeTextReply(res, badHttpTarget(url))
    if (this.deps.loop.isLoop(target.hostname, target.port, req.headers.via))
      return void writeTextReply(res, this.deps.loop.reply(target))

    const routed = routeAgain(this.deps.routing(), target, url, req, connection)
    this.deps.accounting.httpStarted(req, response, target.hostname, target.port, routed)
    if (answerHttp(routed, res)) return
    this.deps.transport.forwardHttp(req, response, target, routed)
  }

  /** A CONNECT request: a tunnel to `host:port` (its head read by Node, or by first-read.ts). */
  onConnect = (req: TunnelRequest, socket: Socket, head: Buffer): void => {
    const admitted = this.admitTunnel(req, socket, 'connect')
    if (admitted)
      this.deps.transport.openTunnel(req, admitted.connection, head, admitted.target, admitted.routed)
  }

  /** A request to switch protocols (WebSocket): routed like plain HTTP, then carried as a tunnel. */
  onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    const admitted = this.admitTunnel(req, socket, 'upgrade')
    if (admitted)
      this.deps.transport.forwardUpgrade(req, admitted.connection, head, admitted.target, admitted.routed)
  }

  /**
   * Accept, route, account and modify for a request that will become a tunnel, answered on the raw
   * socket; null when one of them answered it.
   */
  private admitTunnel(
    req: TunnelRequest,
    socket: Socket,
    kind: 'connect' | 'upgrade'
  ): { connection: ClientConnection; target: Target; routed: Routed } | null {
    // Node stops handling this socket's errors once it hands it over; a reset must not crash the process.
    socket.on('error', destroy)
    const malformed = versionProblem(req)
    if (malformed) return refuseTunnel(socket, malformed)
    if (!this.authorized(req))
      return refuseTunnel(socket, AUTH_REQUIRED, { [CHALLENGE]: 'Basic realm="Junction"' })
    const target = kind === 'connect' ? parseConnectTarget(req.url) : parseHttpTarget(req.url)
    if (!target)
      return refuseTunnel(socket, kind === 'connect' ? badConnectTarget(req.url) : badHttpTarget(req.url))
    if (this.deps.loop.isLoop(target.hostname, target.port, req.headers.via))
      return refuseTunnel(socket, this.deps.loop.reply(target))

    const routed =
      kind === 'upgrade'
        ? route(this.deps.routing(), target, true, req)
        : route(this.deps.routing(), target, false)
    this.deps.accounting.tunnelStarted(req, target.hostname, target.port, kind, routed)
    const connection = this.deps.accounting.connection(socket)
    if (answerRaw(routed, socket)) {
      const { decision } = routed
      connection.reply =
        decision.action === 'block'
          ? { status: decision.status, code: 'blocked' }
          : { status: 0, code: 'rejected' }
      return null
    }
    return { connection, target, routed }
  }

  /**
   * A request inside an intercepted tunnel (origin form, on the tunnel's TLS or plain stream): it goes
   * where the tunnel goes, with the tunnel's rule, to `https://` when TLS was opened.
   */
  onInterceptedRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const malformed = versionProblem(req) ?? missingHost(req) ?? unsupportedTransferCoding(req)
    if (malformed) return void writeTextReply(res, malformed, { Connection: 'close' })
    const inside = this.inside(req)
    if (!inside) return void req.socket.destroy()
    if (answerHttp(inside.routed, res)) return
    this.deps.transport.forwardHttp(req, res as JunctionResponse, inside.target, inside.routed)
  }

  /** A WebSocket (or other Upgrade) inside an intercepted tunnel: carried like one in plain HTTP. */
  onInterceptedUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    socket.on('error', destroy)
    const inside = this.inside(req)
    if (!inside) return void socket.destroy()
    if (answerRaw(inside.routed, socket)) return
    // The tunnel's own connection is accounted already; this one only carries the upgraded stream.
    const carrier = {
      id: inside.tunnel.connection.id,
      socket,
      reply: null,
      seenBytes: 0,
      quietSince: 0,
      latest: null,
      recent: null
    }
    this.deps.transport.forwardUpgrade(req, carrier, head, inside.target, inside.routed)
  }

  /** The target and route of a request inside an intercepted tunnel; null when the tunnel is gone. */
  private inside(req: IncomingMessage): { tunnel: Intercepted; target: Target; routed: Routed } | null {
    const tunnel = this.deps.interceptor?.tunnelOf(req.socket)
    if (!tunnel) return null
    const { hostname, port } = tunnel.target
    const defaultPort = tunnel.secure ? 443 : 80
    const authority = req.headers.host ?? (port === defaultPort ? hostname : tunnel.target.authority)
    const path = req.url?.startsWith('/') ? req.url : '/'
    const target: Target = {
      hostname,
      port,
      authority,
      path,
      url: `${tunnel.secure ? 'https' : 'http'}://${authority}${path}`,
      secure: tunnel.secure,
      servername: tunnel.servername,
      intercepted: true
    }
    return { tunnel, target, routed: routeInside(this.deps.routing(), tunnel.routed, target, req) }
  }

  /** A request Node could not parse: a specific answer, then the connection closes. */
  onClientError = (error: NodeJS.ErrnoException, socket: Socket): void => {
    // A request whose headers never arrived, on a connection that may be streaming an earlier
    // response: an answer could land inside that response, so the connection just closes.
    const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'HPE_HEADERS_TIMEOUT'
    if (timedOut || error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy()
    const reply = rawErrorResponse(replyForParseError(error))
    const latest = this.deps.accounting.open.get(socket)?.latest
    if (!latest || latest.writableFinished) return endRaw(socket, reply)
    // A request pipelined behind others still being answered: written now, the reply would read as
    // theirs. It follows them (responses end in order), unless the last one closes the connection.
    if (latest.req.complete) return void latest.once('close', () => endRaw(socket, reply))
    // The error is in the body of the request being answered: answered now, if its answer has not begun.
    if (latest.headersSent) return void socket.destroy()
    endRaw(socket, reply)
  }

  /** A keep-alive client connection stayed idle past its timeout. */
  onIdleClient = (socket: Socket): void => {
    this.deps.accounting.close(this.deps.accounting.connection(socket), 'idle timeout')
  }

  private authorized(req: Pick<IncomingMessage, 'headers'>): boolean {
    const auth = this.deps.auth
    if (!auth) return true
    const given = parseBasicAuth(req.headers['proxy-authorization'])
    return (
      given !== null && sameSecret(given.username, auth.username) && sameSecret(given.password, auth.password)
    )
  }

  /** A request for Junction itself rather than for a target: the PAC file, or a short explanation. */
  private serveOwn(req: IncomingMessage, res: ServerResponse): void {
    if (servePac(req, res, this.deps.pac?.current ?? null)) return
    writeTextReply(res, {
      status: 400,
      code: 'not-a-proxy-request',
      message:
        'This is the Junction proxy. Configure it as an HTTP/HTTPS proxy; /proxy.pac serves its PAC file.'
    })
  }
}

/**
 * The target of an absolute-form request; `ws://` is accepted as `http://`. Host and path come from
 * the parsed URL, so credentials in it (`http://user:pw@host/`) are never sent on.
 */
function parseHttpTarget(url: string | undefined): Target | null {
  if (!url) return null
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'ws:') || !parsed.hostname) return null
  if (parsed.port === '0') return null
  const path = `${parsed.pathname}${parsed.search}`
  return {
    hostname: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 80,
    authority: parsed.host,
    path,
    url: `http://${parsed.host}${path}`
  }
}

/**
 * `host:port` targets the URL parser would give back unchanged: a canonical IPv4 address, or lower-case
 * ASCII labels whose last one starts with a letter (so it cannot be read as a number) and none of
 * them punycode, with a port of 1–65535 without leading zeros. Most CONNECTs look like this and skip
 * the parser; everything else goes through it, so rules always see the normalized name.
 */
const CANONICAL_TARGET =
  /^(?:(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)|(?:(?!xn--)[a-z0-9-]+\.)*(?!xn--)[a-z][a-z0-9-]*):([1-9]\d{0,4})$/

/** `host:port` of a CONNECT request; null when it cannot be parsed. */
function parseConnectTarget(url: string | undefined): Target | null {
  if (!url) return null
  const canonical = CANONICAL_TARGET.exec(url)
  if (canonical && Number(canonical[1]) <= 65535) {
    const colon = url.lastIndexOf(':')
    return connectTarget(url.slice(0, colon), Number(canonical[1]), url)
  }
  try {
    const parsed = new URL(`connect://${url}`)
    // Only host:port: the parser would also take (and drop) credentials, a path or a query.
    if (!parsed.hostname || !parsed.port || parsed.port === '0') return null
    if (parsed.username || parsed.password || parsed.pathname || parsed.search || parsed.hash) return null
    return connectTarget(parsed.hostname, Number(parsed.port), `${parsed.hostname}:${parsed.port}`)
  } catch {
    return null
  }
}

function connectTarget(hostname: string, port: number, authority: string): Target {
  return { hostname, port, authority, path: '/', url: `http://${authority}/` }
}

/** Answers a would-be tunnel on its raw socket and closes it; null, as nothing was admitted. */
function refuseTunnel(socket: Socket, reply: ErrorReply, extra?: Record<string, string>): null {
  endRaw(socket, rawErrorResponse(reply, extra))
  return null
}

function destroy(this: Socket): void {
  this.destroy()
}

function parseBasicAuth(header: string | undefined): { username: string; password: string } | null {
  const m = header ? /^basic\s+(\S+)$/i.exec(header) : null
  if (!m) return null
  const decoded = Buffer.from(m[1]!, 'base64').toString()
  const colon = decoded.indexOf(':')
  return colon === -1
    ? { username: decoded, password: '' }
    : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
