/**
 * Stage 4, the direct lane: a plain-HTTP request without a body that goes straight to its target is
 * sent over undici's HTTP/1.1 client (the one under Node's own `fetch`) instead of `http.request`.
 *
 * Why: per request, Node's client builds a `ClientRequest` that copies its options twice and validates
 * every header, an `IncomingMessage` with a headers object built from the raw list, and re-arms the
 * socket's timer four times; undici's `dispatch` hands the head and each chunk to one handler, and
 * its timeouts run on one shared timer. A minimal forwarder spent 35 µs of CPU per request with it
 * against 62 µs with `http.request` (BENCHMARKS.md, "The direct lane").
 *
 * What is not for this lane stays on transport.ts's general path: request bodies, `Expect`, upgrades,
 * upstreams and groups, TLS to the target, rules that edit bodies, and any head undici will not send
 * as it is (it refuses a `Transfer-Encoding` or `Upgrade` a header rule added, for one).
 *
 * The waits are the general path's: the connection is made by the connector transport.ts passes in
 * (name resolution, connect timeout, loop guard), a response must begin within the response-headers
 * timeout, a head may be 64 KiB, a body may be quiet for the idle timeout. A request whose connection
 * is reset before any answer is sent once more when its method is idempotent, as browsers do with a
 * pooled connection the other end had just closed.
 */
import type { Socket } from 'node:net'
import type { Dispatcher } from 'undici'
import Agent from 'undici/lib/dispatcher/agent.js'
import type { JunctionResponse } from './account.ts'
import { Refused } from './errors.ts'
import { POOL } from './upstream-connect.ts'
import { noteStreamed } from '../stats/memory-return.ts'

export interface LaneSettings {
  /**
   * Opens a connection to `host:port`, checked as every direct connection is (transport.ts), and given
   * up when `owner`, the client it is opened for, leaves first.
   */
  connect: (host: string, port: number, owner: Socket | null) => Promise<Socket>
  responseHeadersMs: number
  idleMs: number
  maxResponseHead: number
}

/** What the general path does with one request's outcomes (transport.ts). */
export interface LaneCall {
  /** The answer's head. False when it was not relayed (a reply was sent instead): the rest is dropped. */
  head(status: number, message: string, headers: string[]): boolean
  /** Each body chunk before it is written on (the Inspect view's preview), or null. */
  chunk: ((chunk: Buffer) => void) | null
  /** A failure before the head was relayed, or after (`answered`), in Node's terms (errors.ts). */
  fail(error: NodeJS.ErrnoException, answered: boolean): void
  /** The request may be sent again whole (an idempotent method: the lane's requests have no body). */
  replayable: boolean
}

/**
 * Requests one target may have in the lane at once; more go the general way. undici reads a socket
 * into a new Buffer per read where Node's HTTP client parses in place: with 2,000 clients on one
 * target, the lane answered 1.6x the requests but left glibc's heap 35-70 MiB larger once they had
 * gone (BENCHMARKS.md, "The direct lane"). Browsers open at most 6 connections per host.
 */
const LANE_PER_TARGET = 128

export class DirectLane {
  private readonly agent: Agent
  /**
   * The client of the request being dispatched. undici opens a new connection inside `dispatch` when
   * no pooled one is free, for that request alone (one request at a time per connection): the
   * attempt is given up when this client leaves, as the general path does, instead of running on to
   * the connect timeout for nobody. A connection opened later (after another one failed) has none.
   */
  private dispatching: Socket | null = null
  /** Requests in the lane per origin, while under way. */
  private readonly active = new Map<string, number>()

  constructor(settings: LaneSettings) {
    this.agent = new Agent({
      connect: (options, callback) => {
        settings.connect(options.hostname, Number(options.port) || 80, this.dispatching).then(
          (socket) => callback(null, socket),
          (error: Error) => callback(error, null)
        )
      },
      // Idle pooled connections close as the general path's do (POOL). A target's `Keep-Alive:
      // timeout=N` may shorten the wait, never lengthen it: an idle connection costs a descriptor on
      // both ends.
      keepAliveTimeout: POOL.timeout!,
      keepAliveMaxTimeout: POOL.timeout!,
      headersTimeout: settings.responseHeadersMs,
      bodyTimeout: settings.idleMs,
      maxHeaderSize: settings.maxResponseHead
    })
  }

  /**
   * Sends a request on `origin` (`http://host:port`) and relays its answer to `res`. Returns the
   * request, which stops when the client leaves (`destroy`), or null when undici would not send this
   * head as it is: the caller sends it the general way.
   */
  send(
    res: JunctionResponse,
    origin: string,
    path: string,
    method: string,
    headers: string[],
    call: LaneCall
  ): LaneRequest | null {
    const active = this.active.get(origin) ?? 0
    if (active >= LANE_PER_TARGET) return null
    this.active.set(origin, active + 1)
    const request = new LaneRequest(this, { origin, path, method, headers }, res, call)
    if (request.dispatch()) return request
    this.ended(origin)
    return null
  }

  /** A request of the lane ended (answered, failed or stopped). */
  ended(origin: string): void {
    const active = this.active.get(origin)! - 1
    if (active === 0) this.active.delete(origin)
    else this.active.set(origin, active)
  }

  /** Dispatches `handler`'s request for the client on `owner`. */
  dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    owner: Socket | null
  ): void {
    this.dispatching = owner
    try {
      this.agent.dispatch(options, handler)
    } finally {
      this.dispatching = null
    }
  }

  close(): Promise<void> {
    return this.agent.destroy()
  }
}

class LaneRequest implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null
  private answered = false
  private gone = false
  private retried = false
  private dispatching = false
  private refused = false
  private waiting = false
  /** Its outcome has been given (answered whole, failed, or not relayed), or the client left. */
  private ended = false
  private readonly lane: DirectLane
  private readonly options: Dispatcher.DispatchOptions
  private readonly res: JunctionResponse
  private readonly call: LaneCall

  constructor(lane: DirectLane, options: Dispatcher.DispatchOptions, res: JunctionResponse, call: LaneCall) {
    this.lane = lane
    this.options = options
    this.res = res
    this.call = call
  }

  /** False when undici refused the request before sending anything (an option or header it rejects). */
  dispatch(): boolean {
    this.dispatching = true
    this.lane.dispatch(this.options, this, this.res.socket)
    this.dispatching = false
    return !this.refused
  }

  /** The client left: the request (queued, sent or answering) stops. */
  destroy(): void {
    this.gone = true
    this.controller?.abort(new Error('the client left'))
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.gone) controller.abort(new Error('the client left'))
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    _: unknown,
    message?: string
  ): void {
    this.answered = true
    const raw = controller.rawHeaders as Buffer[]
    const headers = new Array<string>(raw.length)
    for (let i = 0; i < raw.length; i++) headers[i] = raw[i]!.toString('latin1')
    if (this.call.head(status, message ?? '', headers)) return
    this.end()
    controller.abort(new Error('the answer was not relayed'))
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    noteStreamed(chunk)
    this.call.chunk?.(chunk)
    if (this.res.write(chunk) || this.waiting) return
    this.waiting = true
    controller.pause()
    this.res.once('drain', this.resume)
  }

  private readonly resume = (): void => {
    this.waiting = false
    this.controller?.resume()
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    this.end()
    const raw = controller.rawTrailers as Buffer[] | null
    if (raw?.length) {
      const trailers: [string, string][] = []
      for (let i = 0; i < raw.length; i += 2)
        trailers.push([raw[i]!.toString('latin1'), raw[i + 1]!.toString('latin1')])
      this.res.addTrailers(trailers)
    }
    this.res.end()
  }

  onResponseError(_: Dispatcher.DispatchController | null, error: NodeJS.ErrnoException): void {
    if (
      this.dispatching &&
      (error.code === 'UND_ERR_INVALID_ARG' || error.code === 'UND_ERR_NOT_SUPPORTED')
    ) {
      this.refused = true
      return
    }
    if (this.gone || this.ended) return this.end()
    const failure = inNodeTerms(error)
    if (!this.answered && !this.retried && isReset(failure) && this.call.replayable) {
      this.retried = true
      this.controller = null
      return void this.lane.dispatch(this.options, this, this.res.socket)
    }
    this.end()
    this.call.fail(failure, this.answered)
  }

  private end(): void {
    if (this.ended) return
    this.ended = true
    this.lane.ended(this.options.origin as string)
  }
}

/** undici's failures as the general path's: Node's error codes and Junction's own `Refused`. */
function inNodeTerms(error: NodeJS.ErrnoException): NodeJS.ErrnoException {
  // The answer was not HTTP. undici 8.12 looks its parser's error code up the wrong way round and
  // leaves `code` empty; the general path's parser would name it (HPE_INVALID_CONSTANT, …).
  if (error.name === 'HTTPParserError')
    return Object.assign(new Error(error.message), { code: error.code ?? 'HPE_INVALID_RESPONSE' })
  switch (error.code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new Refused('response headers')
    case 'UND_ERR_BODY_TIMEOUT':
      return new Refused('idle')
    case 'UND_ERR_HEADERS_OVERFLOW':
      return Object.assign(new Error(error.message), { code: 'HPE_HEADER_OVERFLOW' })
    case 'UND_ERR_SOCKET':
      // A `101` to a request that asked for no upgrade; otherwise the target closed the connection.
      if (error.message === 'bad upgrade') return new Refused('upgrade')
      return Object.assign(new Error(error.message), { code: 'ECONNRESET' })
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      // The body ended before its Content-Length: cut short.
      return Object.assign(new Error(error.message), { code: 'ECONNRESET' })
    default:
      return error
  }
}

function isReset(error: NodeJS.ErrnoException): boolean {
  return error.code === 'ECONNRESET' || error.code === 'EPIPE'
}
