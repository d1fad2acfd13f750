/**
 * Traffic accounting for the engine: per client connection, per request, per host, profile and route.
 *
 * What is counted: bytes on the client's socket to Junction, up (client → Junction) and down
 * (Junction → client), request and response headers included, as the client's own counters would
 * show. For a tunnel that is everything inside it plus the CONNECT exchange. These are read from the
 * socket (`bytesRead`/`bytesWritten`), so they are exact whether the target was reached directly,
 * through an upstream or not at all.
 *
 * Bytes are attributed to history when a connection's next request starts, every tick (1 s) and at
 * close, to the host, profile and route of the request then under way. The final counters come from
 * the engine's one 'close' listener per connection.
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
import { hostPort, KIND_LABELS, matchesShown, shownConnection } from '../../common/display-text.ts'
import type { ConnectionSort } from '../../common/ipc-contract.ts'
import { idsAsNames, type NameResolver } from './display-names.ts'
import type { HistoryStore, SeriesPoint } from './history-store.ts'
import type { RequestLogFile, RequestRing } from './request-log.ts'
import { SecondRates } from './second-rates.ts'

/** What the engine knows once it has routed a request or tunnel. */
export interface RequestInfo {
  method: string
  host: string
  port: number
  /** `upgrade`: a plain-HTTP request that switched protocols; like a tunnel, it is logged when it closes. */
  kind: 'http' | 'connect' | 'upgrade'
  profileId: string
  ruleId: string | null
  route: RouteLabel
}

/** What a client was told: a status (0 when nothing was sent) and Junction's error code, if any. */
export interface Reply {
  status: number
  code: string | null
  /** Header edits applied to the request and its response. */
  rewritten?: number
}

/** A request's own fields, kept apart only when the next request on its connection started first. */
interface EarlierRequest extends RequestInfo {
  seq: number
  requestAt: number
}

/**
 * One client connection, holding its latest request's fields itself: a connection usually carries one
 * request (always, for a tunnel), and one object per connection instead of three keeps the cost of
 * short tunnels down.
 */
export class ConnectionRecord implements RequestInfo {
  readonly id: number
  /** The client's socket while open; dropped at close, so that closed records keep no socket alive. */
  socket: Socket | null
  readonly clientAddress: string | undefined
  readonly clientPort: number | undefined
  readonly startedAt: number
  // The latest request's fields, set by begin().
  method!: string
  host!: string
  port!: number
  kind!: 'http' | 'connect' | 'upgrade'
  profileId!: string
  ruleId!: string | null
  route!: RouteLabel
  /** The latest request's number on this connection (1, 2, …), which is also the request count. */
  seq = 0
  requestAt!: number
  /** Whether the latest request is still waiting for requestFinished. */
  requestOpen = false
  /** Pipelined HTTP requests whose responses were still under way when a later one started. */
  earlier: EarlierRequest[] | null = null
  lastActivityAt!: number
  /** Socket counters already attributed to history. */
  up = 0
  down = 0
  /** `up`/`down` at the last tick, and the rates measured between the last two ticks. */
  sampledUp = 0
  sampledDown = 0
  upRate = 0
  downRate = 0
  /** Socket counters already assigned to finished requests: the next request's bytes start here. */
  loggedUp = 0
  loggedDown = 0
  state: 'open' | 'closed' = 'open'
  closedAt: number | null = null
  closeReason: string | null = null
  presetCloseReason: string | null = null

  constructor(id: number, socket: Socket, info: RequestInfo, now: number) {
    this.id = id
    this.socket = socket
    // Cached by Node once read (the engine reads it for every connection), so this costs no syscall.
    this.clientAddress = socket.remoteAddress
    this.clientPort = socket.remotePort
    this.startedAt = now
    this.begin(info, now)
  }

  /** Makes `info` the connection's latest request, started at `now`. */
  begin(info: RequestInfo, now: number): void {
    this.method = info.method
    // Keeps the string already held when the host is the same (keep-alive): the request log then holds
    // one host string per connection, not a new one per request that would outlive young collections.
    if (info.host !== this.host) this.host = info.host
    this.port = info.port
    this.kind = info.kind
    this.profileId = info.profileId
    this.ruleId = info.ruleId
    this.route = info.route
    this.requestAt = now
    this.lastActivityAt = now
  }
}

export interface TrafficStatsOptions {
  history?: HistoryStore | null
  ring?: RequestRing | null
  logFile?: RequestLogFile | null
  now?: () => number
  /** Most connections a snapshot carries (the total is always in `openCount`). */
  connectionLimit?: number
  topHostLimit?: number
  /** Names shown in views and searched by filters in place of ids (display-names.ts). */
  names?: NameResolver
}

interface Events {
  snapshot: [StatsSnapshot]
}

/** How many closed connections a snapshot carries, with their close reasons. */
const RECENTLY_CLOSED = 50

export class TrafficStats extends EventEmitter<Events> {
  private readonly open = new Map<number, ConnectionRecord>()
  /** A ring of the last connections to close; views are built only for snapshots. */
  private readonly closed: (ConnectionRecord | undefined)[] = new Array(RECENTLY_CLOSED)
  private closedNext = 0
  private readonly hostTotals = new Map<string, [number, number]>()
  private readonly history: HistoryStore | null
  private readonly ring: RequestRing | null
  private readonly logFile: RequestLogFile | null
  private readonly now: () => number
  private readonly connectionLimit: number
  private readonly topHostLimit: number
  private readonly names: NameResolver
  private readonly secondRates = new SecondRates()
  private totalUp = 0
  private totalDown = 0
  private last: { at: number; up: number; down: number }
  private latest: StatsSnapshot
  private timer: NodeJS.Timeout | null = null
  private stoppingReason: string | null = null

  constructor(options: TrafficStatsOptions = {}) {
    super()
    this.history = options.history ?? null
    this.ring = options.ring ?? null
    this.names = options.names ?? idsAsNames
    this.logFile = options.logFile ?? null
    this.now = options.now ?? Date.now
    this.connectionLimit = options.connectionLimit ?? 500
    this.topHostLimit = options.topHostLimit ?? 10
    this.last = { at: this.now(), up: 0, down: 0 }
    this.latest = this.buildSnapshot(this.last.at, 0, 0)
  }

  /**
   * Called by the engine once a request or tunnel on connection `id` is routed. Returns the record;
   * its `seq` names this request in `requestFinished`. The engine reports the connection's end with
   * `connectionClosed`.
   */
  requestStarted(socket: Socket, id: number, info: RequestInfo): ConnectionRecord {
    const now = this.now()
    let record = this.open.get(id)
    if (!record) {
      record = new ConnectionRecord(id, socket, info, now)
      this.open.set(id, record)
    } else {
      // The previous request's bytes belong to its own host, profile and route; when those stay the
      // same (keep-alive to one host, the usual case) the next tick or the close accounts them alike.
      if (record.host !== info.host || record.profileId !== info.profileId || record.route !== info.route)
        this.account(record, now, socket.bytesRead, socket.bytesWritten)
      if (record.requestOpen) {
        record.earlier ??= []
        record.earlier.push(earlierRequest(record))
      }
      record.begin(info, now)
    }
    record.seq++
    record.requestOpen = true
    return record
  }

  /** The open request on connection `id` is carried by another route (a group's next member). */
  rerouted(id: number, route: RouteLabel): void {
    const record = this.open.get(id)
    if (record) record.route = route
  }

  /** Called once per plain-HTTP request, when its response is done or abandoned. */
  requestFinished(record: ConnectionRecord, seq: number, reply: Reply): void {
    let request: RequestInfo & { requestAt: number }
    if (seq === record.seq) {
      if (!record.requestOpen) return
      record.requestOpen = false
      request = record
    } else {
      const i = record.earlier?.findIndex((r) => r.seq === seq) ?? -1
      if (i < 0) return
      request = record.earlier!.splice(i, 1)[0]!
    }
    // A response abandoned by a closing client finishes after the close: its counters were final then.
    const { socket } = record
    const read = socket ? socket.bytesRead : record.up
    const written = socket ? socket.bytesWritten : record.down
    this.log(record, request, reply, read, written, this.now())
  }

  /**
   * Called when connection `id` has closed, with its final socket counters. A tunnel's request ends
   * here; `tunnelReply` says what its client was told.
   */
  connectionClosed(
    id: number,
    bytesRead: number,
    bytesWritten: number,
    tunnelReply: (socket: Socket) => Reply
  ): void {
    const record = this.open.get(id)
    if (!record) return
    this.open.delete(id)
    // One clock read per event: Date.now() is a measurable share of this path.
    const now = this.now()
    this.account(record, now, bytesRead, bytesWritten)
    const socket = record.socket!
    if (record.requestOpen && record.kind !== 'http') {
      record.requestOpen = false
      this.log(record, record, tunnelReply(socket), bytesRead, bytesWritten, now)
    }
    record.socket = null
    record.state = 'closed'
    record.closedAt = now
    record.closeReason =
      record.presetCloseReason ?? this.stoppingReason ?? (socket.errored ? 'error' : 'closed')
    this.closed[this.closedNext] = record
    this.closedNext = (this.closedNext + 1) % RECENTLY_CLOSED
  }

  /**
   * One request log entry. A request owns the connection's bytes since the previous request finished:
   * its own head was already read when it was routed, so a count taken at that moment would miss it.
   */
  private log(
    record: ConnectionRecord,
    request: RequestInfo & { requestAt: number },
    reply: Reply,
    bytesRead: number,
    bytesWritten: number,
    now: number
  ): void {
    const up = bytesRead - record.loggedUp
    const down = bytesWritten - record.loggedDown
    record.loggedUp = bytesRead
    record.loggedDown = bytesWritten
    if (!this.ring && !this.logFile) return
    const entry: RequestLogEntry = {
      at: request.requestAt,
      connectionId: record.id,
      method: request.method,
      host: request.host,
      port: request.port,
      status: reply.status,
      error: reply.code,
      profileId: request.profileId,
      ruleId: request.ruleId,
      route: request.route,
      up,
      down,
      durationMs: now - request.requestAt,
      rewritten: reply.rewritten ?? 0
    }
    this.ring?.push(entry)
    this.logFile?.write(entry)
  }

  /** Attributes a connection's bytes since the last call to its current host, profile and route. */
  private account(record: ConnectionRecord, now: number, bytesRead: number, bytesWritten: number): void {
    const du = bytesRead - record.up
    const dd = bytesWritten - record.down
    if (du === 0 && dd === 0) return
    record.up = bytesRead
    record.down = bytesWritten
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

  /** Closes one connection; false when it is not open. */
  closeConnection(id: number, reason = 'closed by user'): boolean {
    const record = this.open.get(id)
    if (!record) return false
    record.presetCloseReason = reason
    record.socket?.destroy()
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
   * One page of the open connections, most recently active first or in `sort` order, optionally only
   * those where every word of `filter` is in something the Connections view shows (host:port, client,
   * kind, profile, rule or route name); with the total that match, for a virtualized table.
   */
  connections(
    offset: number,
    limit: number,
    filter = '',
    sort?: ConnectionSort
  ): { total: number; rows: ConnectionView[] } {
    const q = filter.trim()
    const recent = [...this.open.values()].sort((a, b) => b.lastActivityAt - a.lastActivityAt || b.id - a.id)
    // Without a filter or a sort, views are built for the page only.
    if (!q && !sort)
      return { total: recent.length, rows: recent.slice(offset, offset + limit).map(this.toView) }
    let views = recent.map(this.toView)
    if (q) views = views.filter((view) => matchesShown(shownConnection(view), q))
    if (sort) views.sort(compareBy(sort))
    return { total: views.length, rows: views.slice(offset, offset + limit) }
  }

  /** Closes every open connection `connections(…, filter)` would list; returns how many. */
  closeMatching(filter: string, reason = 'closed by user'): number {
    const { rows } = this.connections(0, Number.MAX_SAFE_INTEGER, filter)
    return rows.filter((row) => this.closeConnection(row.id, reason)).length
  }

  /** Accounts every open connection and publishes a snapshot; runs every second while started. */
  tick(): StatsSnapshot {
    const now = this.now()
    const seconds = Math.max((now - this.last.at) / 1000, 0.001)
    for (const record of this.open.values()) {
      if (record.socket) this.account(record, now, record.socket.bytesRead, record.socket.bytesWritten)
      // A connection opened during this interval counts its bytes over the whole interval, like the
      // totals do: a rate over its few milliseconds of life would turn one request head into MiB/s.
      // Whole bytes per second: fractions are noise, and each digit is sent for 500 connections a second.
      record.upRate = Math.round((record.up - record.sampledUp) / seconds)
      record.downRate = Math.round((record.down - record.sampledDown) / seconds)
      record.sampledUp = record.up
      record.sampledDown = record.down
    }
    const upRate = (this.totalUp - this.last.up) / seconds
    const downRate = (this.totalDown - this.last.down) / seconds
    this.last = { at: now, up: this.totalUp, down: this.totalDown }
    this.secondRates.push(now, upRate, downRate)
    this.latest = this.buildSnapshot(now, upRate, downRate)
    if (this.listenerCount('snapshot') > 0) this.emit('snapshot', this.latest)
    return this.latest
  }

  get snapshot(): StatsSnapshot {
    return this.latest
  }

  /** Total rates, one point per tick, of the last five minutes at most, from `from` on. */
  recentRates(from: number): SeriesPoint[] {
    return this.secondRates.since(from)
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
      connections: records.slice(0, this.connectionLimit).map(this.toView),
      connectionLimit: this.connectionLimit,
      recentlyClosed: this.recentlyClosed(),
      topHosts: this.topHosts()
    }
  }

  private recentlyClosed(): ConnectionView[] {
    const views: ConnectionView[] = []
    for (let i = 1; i <= RECENTLY_CLOSED; i++) {
      const record = this.closed[(this.closedNext - i + RECENTLY_CLOSED) % RECENTLY_CLOSED]
      if (!record) break
      views.push(this.toView(record))
    }
    return views
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
  /** Strings are built here, for the few connections a snapshot shows, not per request. */
  private readonly toView = (record: ConnectionRecord): ConnectionView => {
    const { clientAddress, host, port } = record
    return {
      id: record.id,
      client: clientAddress ? `${clientAddress}:${record.clientPort}` : 'unknown',
      target: hostPort(host, port),
      host,
      kind: record.kind,
      profileId: record.profileId,
      ruleId: record.ruleId,
      route: record.route,
      ...this.names(record.profileId, record.ruleId, record.route),
      startedAt: record.startedAt,
      lastActivityAt: record.lastActivityAt,
      up: record.up,
      down: record.down,
      upRate: record.state === 'open' ? record.upRate : 0,
      downRate: record.state === 'open' ? record.downRate : 0,
      requests: record.seq,
      state: record.state,
      closedAt: record.closedAt,
      closeReason: record.closeReason
    }
  }
}

/** Orders views by one column, ties broken by id so that rows keep their place between ticks. */
function compareBy({ key, direction }: ConnectionSort): (a: ConnectionView, b: ConnectionView) => number {
  const sign = direction === 'ascending' ? 1 : -1
  const value = SORT_VALUES[key]
  return (a, b) => {
    const x = value(a)
    const y = value(b)
    const order = typeof x === 'number' ? x - (y as number) : textOrder().compare(x, y as string)
    return sign * order || a.id - b.id
  }
}

/**
 * Numbers inside text in numeric order: `127.0.0.1:6000` before `127.0.0.1:53122`. Made when a view
 * first sorts by text: a collator loads ICU's collation data, about 3 MiB of resident memory.
 */
let collator: Intl.Collator | null = null
const textOrder = (): Intl.Collator => (collator ??= new Intl.Collator(undefined, { numeric: true }))

/** What each sortable column sorts by: the text it shows, or the number behind it. */
const SORT_VALUES: Record<ConnectionSort['key'], (view: ConnectionView) => string | number> = {
  target: (v) => v.target,
  client: (v) => v.client,
  kind: (v) => KIND_LABELS[v.kind].label,
  profile: (v) => v.profileName,
  rule: (v) => v.ruleName,
  route: (v) => v.routeName,
  up: (v) => v.up,
  down: (v) => v.down,
  upRate: (v) => v.upRate,
  downRate: (v) => v.downRate,
  // Longest open first when descending.
  duration: (v) => -v.startedAt
}

function earlierRequest(record: ConnectionRecord): EarlierRequest {
  const { seq, requestAt, method, host, port, kind, profileId, ruleId, route } = record
  return { seq, requestAt, method, host, port, kind, profileId, ruleId, route }
}
