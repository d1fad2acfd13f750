/**
 * The Inspect view's memory: the engine's recent HTTP exchanges (plain HTTP and requests inside
 * intercepted tunnels), bounded by count and by the bytes of body previews they hold, oldest dropped
 * first. It is the engine's `ExchangeObserver`; while `recording` is false the engine builds no
 * exchanges at all, which is why recording stays off until a user first opens the view.
 *
 * Bytes are counted when an exchange finishes: until then the engine is still adding to its previews,
 * and one in flight holds at most two previews (request and response).
 *
 * Listeners of `change` hear at most one event per `notifyMs` (default 250 ms), so a busy proxy does not
 * make every open UI reload its list on each request.
 */
import { EventEmitter } from 'node:events'
import type { ExchangeDetail, ExchangeFilter, ExchangeRow, InspectState } from '../../common/ipc-contract.ts'
import type { Exchange, ExchangeObserver } from '../engine/capture.ts'
import { headerPairs, renderBody } from './body-view.ts'
import { curlCommand } from './curl.ts'

export interface ExchangeStoreOptions {
  /** Most exchanges kept (default 1,000). */
  maxExchanges?: number
  /** Most bytes of body previews kept, all exchanges together (default 64 MiB). */
  maxBytes?: number
  /** Bytes of each body kept (default 64 KiB). */
  previewBytes?: number
  /** Least time between two `change` events (default 250 ms). */
  notifyMs?: number
}

interface Entry {
  exchange: Exchange
  host: string
  /** Preview bytes counted for it; 0 until it finished. */
  bytes: number
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '')
  } catch {
    return ''
  }
}

/** `404` matches 404, `4xx` and `4` match 400–499, `40x` and `40` match 400–409. */
function statusMatches(status: number | null, pattern: string): boolean {
  const prefix = pattern.toLowerCase().replace(/x+$/, '')
  return status !== null && String(status).startsWith(prefix)
}

export class ExchangeStore extends EventEmitter<{ change: [InspectState] }> implements ExchangeObserver {
  readonly previewBytes: number
  readonly #maxExchanges: number
  readonly #maxBytes: number
  readonly #notifyMs: number
  /** In arrival order, oldest first (a Map keeps insertion order), so eviction takes the first key. */
  readonly #entries = new Map<number, Entry>()
  #bytes = 0
  #recording = false
  #lastNotified = 0
  #timer: NodeJS.Timeout | null = null

  constructor(options: ExchangeStoreOptions = {}) {
    super()
    this.#maxExchanges = options.maxExchanges ?? 1000
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024
    this.previewBytes = options.previewBytes ?? 64 * 1024
    this.#notifyMs = options.notifyMs ?? 250
  }

  get recording(): boolean {
    return this.#recording
  }

  setRecording(on: boolean): InspectState {
    if (on !== this.#recording) {
      this.#recording = on
      this.#changed()
    }
    return this.state()
  }

  state(): InspectState {
    return { recording: this.#recording, count: this.#entries.size, bytes: this.#bytes }
  }

  started(exchange: Exchange): void {
    this.#entries.set(exchange.id, { exchange, host: hostOf(exchange.url), bytes: 0 })
    this.#evict()
    this.#changed()
  }

  finished(exchange: Exchange): void {
    const entry = this.#entries.get(exchange.id)
    // Dropped (evicted or cleared) while in flight: it stays dropped.
    if (!entry) return
    entry.bytes = exchange.requestBody.kept + exchange.responseBody.kept
    this.#bytes += entry.bytes
    this.#evict()
    this.#changed()
  }

  clear(): InspectState {
    this.#entries.clear()
    this.#bytes = 0
    this.#changed()
    return this.state()
  }

  /** A page of exchanges, newest first, and how many match the filter. */
  list(query: { offset: number; limit: number; filter?: ExchangeFilter }): {
    total: number
    rows: ExchangeRow[]
  } {
    const { filter = {} } = query
    const host = filter.host?.trim().toLowerCase()
    const method = filter.method?.trim().toUpperCase()
    const status = filter.status?.trim()
    const text = filter.text?.trim().toLowerCase()
    const matching: Entry[] = []
    const all = [...this.#entries.values()]
    for (let i = all.length - 1; i >= 0; i--) {
      const entry = all[i]!
      const { exchange } = entry
      if (host && !entry.host.toLowerCase().includes(host)) continue
      if (method && exchange.method !== method) continue
      if (status && !statusMatches(exchange.status, status)) continue
      if (text && !exchange.url.toLowerCase().includes(text)) continue
      matching.push(entry)
    }
    return {
      total: matching.length,
      rows: matching.slice(query.offset, query.offset + query.limit).map(toRow)
    }
  }

  /** Headers and both bodies rendered for reading, or null when the exchange is no longer kept. */
  async detail(id: number): Promise<ExchangeDetail | null> {
    const entry = this.#entries.get(id)
    if (!entry) return null
    const { exchange } = entry
    return {
      ...toRow(entry),
      requestHeaders: headerPairs(exchange.requestHeaders),
      responseHeaders: exchange.responseHeaders ? headerPairs(exchange.responseHeaders) : null,
      requestBody: await renderBody(exchange.requestBody, exchange.requestHeaders),
      responseBody: await renderBody(exchange.responseBody, exchange.responseHeaders)
    }
  }

  /** The request as a curl command, or null when the exchange is no longer kept. */
  asCurl(id: number): string | null {
    const entry = this.#entries.get(id)
    return entry ? curlCommand(entry.exchange) : null
  }

  #evict(): void {
    while (
      this.#entries.size > this.#maxExchanges ||
      (this.#bytes > this.#maxBytes && this.#entries.size > 0)
    ) {
      const [id, oldest] = this.#entries.entries().next().value!
      this.#entries.delete(id)
      this.#bytes -= oldest.bytes
    }
  }

  /** Emits now when the last event is old enough, otherwise once at the end of the interval. */
  #changed(): void {
    if (this.#timer) return
    const wait = this.#lastNotified + this.#notifyMs - Date.now()
    if (wait <= 0) return this.#notify()
    this.#timer = setTimeout(() => this.#notify(), wait)
    // A pending notification must not keep a stopping process alive.
    this.#timer.unref()
  }

  #notify(): void {
    this.#timer = null
    this.#lastNotified = Date.now()
    this.emit('change', this.state())
  }
}

function toRow(entry: Entry): ExchangeRow {
  const { exchange } = entry
  return {
    id: exchange.id,
    at: exchange.at,
    method: exchange.method,
    url: exchange.url,
    host: entry.host,
    status: exchange.status,
    durationMs: exchange.durationMs,
    requestBytes: exchange.requestBody.total,
    responseBytes: exchange.responseBody.total,
    profileId: exchange.profileId,
    ruleId: exchange.ruleId,
    route: exchange.route,
    intercepted: exchange.intercepted,
    error: exchange.error
  }
}
