/**
 * Traffic accounting for the engine: per client connection, per request, per host, profile and route.
 *
 * What is counted: bytes on the client's socket to Junction, up (client → Junction) and down
 * (Junction → client), request and response headers included, as the client's own counters would
 * show. For a tunnel that is everything inside it plus the CONNECT exchange. These are read from the
 * socket (`bytesRead`/`bytesWritten`), so they are exact whether the target was reached directly,
 * through an upstream or not at all, where proxy-chain's target counters are empty.
 *
 * Bytes are attributed to history when a connection's next request starts, every tick (1 s) and at
 * close, to the host, profile and route of the request then under way.
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type {
  ConnectionView,
  HostTraffic,
  RequestLogEntry,
  RouteLabel,
  StatsSnapshot
} from '../../common/model.ts'
import type { HistoryStore } from './history-store.ts'
import type { RequestLogFile, RequestRing } from './request-log.ts'

export interface RequestInfo {
  method: string
  host: string
  port: number
  kind: 'http' | 'connect'
  profileId: string
  ruleId: string | null
  route: RouteLabel
  /**
   * For a tunnel, which lasts as long as its connection: what the client was told, read when the
   * connection closes. Plain requests are finished by the engine when their response is done.
   */
  replyOnClose?: (socket: Socket) => { status: number; code: string | null }
}

interface ConnectionRecord extends Omit<ConnectionView, 'client' | 'target'> {
  port: number
  current: TrackedRequest | null
  socket: Socket
  /** Socket counters already attributed to history. */
  accountedUp: number
  accountedDown: number
  /** Socket counters already assigned to finished requests: the next request's bytes start here. */
  loggedUp: number
  loggedDown: number
  presetCloseReason: string | null
}

export interface TrackedRequest {
  connection: ConnectionRecord
  info: RequestInfo
  startedAt: number
  done: boolean
}

export interface TrafficStatsOptions {
  history?: HistoryStore | null
  ring?: RequestRing | null
  logFile?: RequestLogFile | null
  now?: () => number
  /** Most connections a snapshot carries (the total is always in `openCount`). */
  connectionLimit?: number
  topHostLimit?: number
}

const RECORD = Symbol('junction.connectionRecord')
type RecordedSocket = Socket & { [RECORD]?: ConnectionRecord }

interface Events {
  snapshot: [StatsSnapshot]
  request: [RequestLogEntry]
}

export class TrafficStats extends EventEmitter<Events> {
  private readonly open = new Map<number, ConnectionRecord>()
  private readonly hostTotals = new Map<string, [number, number]>()
  private readonly history: HistoryStore | null
  private readonly ring: RequestRing | null
  private readonly logFile: RequestLogFile | null
  private readonly now: () => number
  private readonly connectionLimit: number
  private readonly topHostLimit: number
  private totalUp = 0
  private totalDown = 0
  private last: { at: number; up: number; down: number }
  private latest: StatsSnapshot
  private timer: NodeJS.Timeout | null = null
  private stoppingReason: string | null = null

  /** One handler shared by every connection (a closure per connection showed in profiles). */
  private readonly onSocketClose: (this: Socket, hadError: boolean) => void

  constructor(options: TrafficStatsOptions = {}) {
    super()
    const closed = (record: ConnectionRecord, hadError: boolean) => this.connectionClosed(record, hadError)
    this.onSocketClose = function (this: Socket, hadError: boolean) {
      const record = (this as RecordedSocket)[RECORD]
      if (record) closed(record, hadError)
    }
    this.history = options.history ?? null
    this.ring = options.ring ?? null
    this.logFile = options.logFile ?? null
    this.now = options.now ?? Date.now
    this.connectionLimit = options.connectionLimit ?? 500
    this.topHostLimit = options.topHostLimit ?? 10
    this.last = { at: this.now(), up: 0, down: 0 }
    this.latest = this.buildSnapshot(this.last.at, 0, 0)
  }

  /** Called by the engine once a request or tunnel is routed. */
  requestStarted(socket: Socket, id: number, info: RequestInfo): TrackedRequest {
    const now = this.now()
    let record = this.open.get(id)
    if (!record) {
      record = {
        id,
        port: info.port,
        current: null,
        host: info.host,
        kind: info.kind,
        profileId: info.profileId,
        ruleId: info.ruleId,
        route: info.route,
        startedAt: now,
        lastActivityAt: now,
        up: 0,
        down: 0,
        requests: 0,
        state: 'open',
        closeReason: null,
        socket,
        accountedUp: 0,
        accountedDown: 0,
        loggedUp: 0,
        loggedDown: 0,
        presetCloseReason: null
      }
      this.open.set(id, record)
      ;(socket as RecordedSocket)[RECORD] = record
      socket.once('close', this.onSocketClose)
    } else {
      // The previous request's bytes belong to its own host and route.
      this.account(record, now)
    }
    record.port = info.port
    record.host = info.host
    record.kind = info.kind
    record.profileId = info.profileId
    record.ruleId = info.ruleId
    record.route = info.route
    record.requests++
    record.lastActivityAt = now
    const tracked: TrackedRequest = { connection: record, info, startedAt: now, done: false }
    record.current = tracked
    return tracked
  }

  /** Called once per request: when an HTTP response is done, or when a tunnel closes. */
  requestFinished(request: TrackedRequest, status: number, error: string | null): void {
    if (request.done) return
    request.done = true
    const record = request.connection
    const { socket } = record
    const { info } = request
    // A request owns the connection's bytes since the previous request finished: its own head was
    // already read when it was routed, so a count taken at that moment would miss it.
    const up = socket.bytesRead - record.loggedUp
    const down = socket.bytesWritten - record.loggedDown
    record.loggedUp = socket.bytesRead
    record.loggedDown = socket.bytesWritten
    const entry: RequestLogEntry = {
      at: request.startedAt,
      connectionId: request.connection.id,
      method: info.method,
      host: info.host,
      port: info.port,
      status,
      error,
      profileId: info.profileId,
      ruleId: info.ruleId,
      route: info.route,
      up,
      down,
      durationMs: this.now() - request.startedAt
    }
    this.ring?.push(entry)
    this.logFile?.write(entry)
    if (this.listenerCount('request') > 0) this.emit('request', entry)
  }

  private account(record: ConnectionRecord, now: number): void {
    const up = record.socket.bytesRead
    const down = record.socket.bytesWritten
    const du = up - record.accountedUp
    const dd = down - record.accountedDown
    if (du === 0 && dd === 0) return
    record.accountedUp = up
    record.accountedDown = down
    record.up = up
    record.down = down
    record.lastActivityAt = now
    this.totalUp += du
    this.totalDown += dd
    const host = this.hostTotals.get(record.host)
    if (host) {
      host[0] += du
      host[1] += dd
    } else this.hostTotals.set(record.host, [du, dd])
    this.history?.record(now, record.host, record.profileId, record.route, du, dd)
  }

  private connectionClosed(record: ConnectionRecord, hadError: boolean): void {
    this.account(record, this.now())
    const current = record.current
    if (current && !current.done && current.info.replyOnClose) {
      const { status, code } = current.info.replyOnClose(record.socket)
      this.requestFinished(current, status, code)
    }
    record.state = 'closed'
    record.closeReason = record.presetCloseReason ?? this.stoppingReason ?? (hadError ? 'error' : 'closed')
    this.open.delete(record.id)
  }

  /** Closes one connection; false when it is not open. */
  closeConnection(id: number, reason = 'closed by user'): boolean {
    const record = this.open.get(id)
    if (!record) return false
    record.presetCloseReason = reason
    record.socket.destroy()
    return true
  }

  /** Closes every open connection whose current request uses the profile; returns how many. */
  closeProfile(profileId: string, reason = 'profile connections closed'): number {
    let closed = 0
    for (const record of [...this.open.values()])
      if (record.profileId === profileId && this.closeConnection(record.id, reason)) closed++
    return closed
  }

  /**
   * One page of the open connections, most recently active first, optionally only those whose host,
   * profile, rule or route contains `filter`; with the total that match, for a virtualized table.
   */
  connections(offset: number, limit: number, filter = ''): { total: number; rows: ConnectionView[] } {
    const q = filter.trim().toLowerCase()
    const matching = [...this.open.values()].filter(
      (r) =>
        !q ||
        r.host.includes(q) ||
        r.profileId.includes(q) ||
        r.route.includes(q) ||
        (r.ruleId ?? '').includes(q)
    )
    matching.sort((a, b) => b.lastActivityAt - a.lastActivityAt || b.id - a.id)
    return { total: matching.length, rows: matching.slice(offset, offset + limit).map(toView) }
  }

  /** Closes every open connection `connections(…, filter)` would list; returns how many. */
  closeMatching(filter: string, reason = 'closed by user'): number {
    const { rows } = this.connections(0, Number.MAX_SAFE_INTEGER, filter)
    return rows.filter((row) => this.closeConnection(row.id, reason)).length
  }

  /** Accounts every open connection and publishes a snapshot; runs every second while started. */
  tick(): StatsSnapshot {
    const now = this.now()
    for (const record of this.open.values()) this.account(record, now)
    const seconds = Math.max((now - this.last.at) / 1000, 0.001)
    const upRate = (this.totalUp - this.last.up) / seconds
    const downRate = (this.totalDown - this.last.down) / seconds
    this.last = { at: now, up: this.totalUp, down: this.totalDown }
    this.latest = this.buildSnapshot(now, upRate, downRate)
    if (this.listenerCount('snapshot') > 0) this.emit('snapshot', this.latest)
    return this.latest
  }

  get snapshot(): StatsSnapshot {
    return this.latest
  }

  private buildSnapshot(at: number, upRate: number, downRate: number): StatsSnapshot {
    const records = [...this.open.values()]
    records.sort((a, b) => b.lastActivityAt - a.lastActivityAt || b.id - a.id)
    return {
      at,
      upRate,
      downRate,
      totalUp: this.totalUp,
      totalDown: this.totalDown,
      openCount: records.length,
      connections: records.slice(0, this.connectionLimit).map(toView),
      connectionLimit: this.connectionLimit,
      topHosts: this.topHosts()
    }
  }

  private topHosts(): HostTraffic[] {
    return [...this.hostTotals]
      .map(([host, [up, down]]) => ({ host, up, down }))
      .sort((a, b) => b.up + b.down - (a.up + a.down))
      .slice(0, this.topHostLimit)
  }

  start(intervalMs = 1000): void {
    this.stoppingReason = null
    this.last = { at: this.now(), up: this.totalUp, down: this.totalDown }
    this.timer = setInterval(() => this.tick(), intervalMs)
    this.timer.unref()
  }

  /** Marks what closes connections from now on (e.g. the proxy stopping) for their close reason. */
  closingAll(reason: string): void {
    this.stoppingReason = reason
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.tick()
    await this.logFile?.close()
  }
}

/** Strings are built here, for the few connections a snapshot shows, not per request. */
function toView(record: ConnectionRecord): ConnectionView {
  const { socket, host, port } = record
  return {
    id: record.id,
    client: `${socket.remoteAddress}:${socket.remotePort}`,
    target: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    host: record.host,
    kind: record.kind,
    profileId: record.profileId,
    ruleId: record.ruleId,
    route: record.route,
    startedAt: record.startedAt,
    lastActivityAt: record.lastActivityAt,
    up: record.up,
    down: record.down,
    requests: record.requests,
    state: record.state,
    closeReason: record.closeReason
  }
}
