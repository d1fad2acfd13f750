/**
 * Stage 5 of a request's path: statistics. Each client connection gets an id and one 'close'
 * listener that hands its final byte counters to TrafficStats; each request is reported (and counted
 * as a hit of the rule that decided it, RuleHits) when it is routed and, for plain HTTP, when its
 * response is done or abandoned; a tunnel (CONNECT or Upgrade) is reported when its connection
 * closes, with what its client was told.
 */
import { ServerResponse, type IncomingMessage } from 'node:http'
import type { TunnelRequest } from './connect-head.ts'
import type { Socket } from 'node:net'
import type { RuleHits } from '../stats/rule-hits.ts'
import type { ConnectionRecord, Reply, TrafficStats } from '../stats/traffic-stats.ts'
import { ERROR_HEADER } from './errors.ts'
import type { RecentRoute, Routed } from './route.ts'

/** One client connection: its id and, for a tunnel, what its client was told. */
export interface ClientConnection {
  id: number
  socket: Socket
  /** Set once a tunnel's client has been answered (200, 101 or an error); null before. */
  reply: Reply | null
  /**
   * For idle-tunnels.ts: the socket's byte count at the last sweep, and since when it has not moved
   * (0 while the connection is not a tunnel).
   */
  seenBytes: number
  quietSince: number
  /** The latest plain-HTTP response on this connection: a later unparsable request is answered after it. */
  latest: ServerResponse | null
  /** Where its latest plain-HTTP request went (route.ts, routeAgain); null before one, or for tunnels. */
  recent: RecentRoute | null
}

/**
 * Junction's response class (passed to `http.createServer`): a response closes once, done or
 * abandoned, and reports it from `emit` rather than through a 'close' listener per response — one
 * more listener turns the response's own 'close' listeners, which stream plumbing adds and removes on
 * every request, into arrays, and that cost more than the statistics (BENCHMARKS.md).
 */
export class JunctionResponse extends ServerResponse {
  /** Set when statistics are on and the request was routed. */
  record: ConnectionRecord | null = null
  seq = 0
  stats: TrafficStats | null = null
  /** Header edits applied to the request and this response. */
  rewritten = 0
  /** Why a response that had started was cut short (the target failed mid-body), for the log. */
  failure: string | null = null

  /**
   * The request sent on for this response (transport.ts: a `ClientRequest`, or the direct lane's
   * request): a response that closes before it has been sent whole (the client left) stops it. Kept
   * here for the same reason as `record`: a 'close' closure per response cost about 4 % of the CPU
   * per proxied request (BENCHMARKS.md, HTTP hot path).
   */
  outgoing: { destroy(): void } | null = null

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close') {
      if (this.record) this.report()
      if (this.outgoing && !this.writableFinished) this.outgoing.destroy()
    }
    return super.emit(event, ...args)
  }

  private report(): void {
    const record = this.record!
    this.record = null
    const code = this.failure ?? this.getHeader(ERROR_HEADER)
    this.stats!.requestFinished(record, this.seq, {
      status: this.headersSent ? this.statusCode : 0,
      code: typeof code === 'string' ? code : null,
      rewritten: this.rewritten
    })
  }
}

export class Accounting {
  private nextId = 1
  /**
   * Open client connections by socket, for requests to find theirs and to close them all when the
   * engine stops. A plain Map with an entry removed at close: a WeakMap's entries cost the garbage
   * collector more, per short connection, than the map costs.
   */
  readonly open = new Map<Socket, ClientConnection>()
  private readonly stats: TrafficStats | null
  private readonly hits: RuleHits | null
  /** One close handler for every socket (`this` is the socket), not a closure per connection. */
  private readonly onClose: (this: Socket) => void

  constructor(stats: TrafficStats | null, hits: RuleHits | null = null) {
    this.stats = stats
    this.hits = hits
    const open = this.open
    const replyOf = (socket: Socket): Reply => tunnelReply(open.get(socket)!)
    this.onClose = function (this: Socket) {
      stats?.connectionClosed(open.get(this)!.id, this.bytesRead, this.bytesWritten, replyOf)
      open.delete(this)
    }
  }

  /** A new client connection. */
  connected(socket: Socket): ClientConnection {
    const connection: ClientConnection = {
      id: this.nextId++,
      socket,
      reply: null,
      seenBytes: 0,
      quietSince: 0,
      latest: null,
      recent: null
    }
    this.open.set(socket, connection)
    // 'close' comes once: `once()` would add a wrapper closure per connection for nothing.
    socket.on('close', this.onClose)
    return connection
  }

  connection(socket: Socket): ClientConnection {
    // Every socket reaches the server's 'connection' event before any request on it.
    return this.open.get(socket)!
  }

  /** A plain-HTTP request has been routed: its response reports the end. */
  httpStarted(
    req: IncomingMessage,
    res: JunctionResponse,
    hostname: string,
    port: number,
    routed: Routed
  ): void {
    if (!this.stats) return
    const record = this.started(req, hostname, port, 'http', routed)
    res.stats = this.stats
    res.record = record
    res.seq = record.seq
  }

  /** A CONNECT or Upgrade has been routed: it is reported when its connection closes. */
  tunnelStarted(
    req: TunnelRequest,
    hostname: string,
    port: number,
    kind: 'connect' | 'upgrade',
    routed: Routed
  ): void {
    if (this.stats) this.started(req, hostname, port, kind, routed)
  }

  /**
   * A group's request or tunnel on `socket` moved to another member: statistics name the member that
   * carries it. Requests inside intercepted tunnels have no connection of their own and keep the
   * tunnel's.
   */
  rerouted(socket: Socket, label: string): void {
    const connection = this.open.get(socket)
    if (connection) this.stats?.rerouted(connection.id, label)
  }

  /** Closes a connection for a reason shown in Connections (`idle timeout`, …). */
  close(connection: ClientConnection, reason: string): void {
    if (!this.stats?.closeConnection(connection.id, reason)) connection.socket.destroy()
  }

  private started(
    req: Pick<IncomingMessage, 'method' | 'socket'>,
    hostname: string,
    port: number,
    kind: 'http' | 'connect' | 'upgrade',
    routed: Routed
  ): ConnectionRecord {
    const socket = req.socket
    if (routed.rule) this.hits?.hit(routed.profile.id, routed.rule.rule.id, Date.now())
    return this.stats!.requestStarted(socket, this.connection(socket).id, {
      method: req.method ?? 'GET',
      host: hostname,
      port,
      kind,
      profileId: routed.profile.id,
      ruleId: routed.rule?.rule.id ?? null,
      route: routed.label
    })
  }
}

/** What a tunnel's client was told: the recorded reply, else 200 once bytes flowed. */
function tunnelReply(connection: ClientConnection): Reply {
  return connection.reply ?? { status: connection.socket.bytesWritten > 0 ? 200 : 0, code: null }
}
