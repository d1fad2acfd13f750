/**
 * What the engine hands to an observer of HTTP exchanges (the Inspect view's store): every plain-HTTP
 * request and every request inside an intercepted tunnel, with its headers as forwarded and the first
 * bytes of each body, while the observer is recording. When it is not, nothing here runs.
 */
import type { IncomingMessage } from 'node:http'
import type { Routed } from './route.ts'
import type { Target } from './upstream-connect.ts'

/** The first bytes of a body, and how many there were in all. */
export interface BodyPreview {
  chunks: Buffer[]
  /** Bytes kept in `chunks` (at most the observer's limit). */
  kept: number
  /** Bytes seen in all. */
  total: number
}

export interface Exchange {
  id: number
  at: number
  method: string
  url: string
  /** Inside an intercepted tunnel (TLS opened with the local CA, or plain HTTP inside a CONNECT). */
  intercepted: boolean
  /** The profile that routed it, for the names Inspect shows. */
  profileId: string
  ruleId: string | null
  route: string
  /** As forwarded: after hop-by-hop removal, the rule's edits and Via. */
  requestHeaders: string[]
  requestBody: BodyPreview
  /** Null until the response's head arrived (or forever, when the request failed first). */
  status: number | null
  responseHeaders: string[] | null
  responseBody: BodyPreview
  /** Junction's error code when it answered or cut the exchange itself. */
  error: string | null
  durationMs: number | null
}

export interface ExchangeObserver {
  /** Checked per request: when false, no exchange is built. */
  readonly recording: boolean
  /** Bytes of each body kept for the preview. */
  readonly previewBytes: number
  /** A new exchange; the engine fills in the response and calls `finished` later. */
  started(exchange: Exchange): void
  finished(exchange: Exchange): void
}

let nextId = 1

/** Starts an exchange for a forwarded request, or returns null when nobody is recording. */
export function beginExchange(
  observer: ExchangeObserver | null,
  req: IncomingMessage,
  target: Target,
  routed: Routed,
  headers: string[]
): Exchange | null {
  if (!observer?.recording) return null
  const exchange: Exchange = {
    id: nextId++,
    at: Date.now(),
    method: req.method ?? 'GET',
    url: target.url,
    intercepted: target.intercepted === true,
    profileId: routed.profile.id,
    ruleId: routed.rule?.rule.id ?? null,
    route: routed.label,
    requestHeaders: ['Host', target.authority, ...headers],
    requestBody: { chunks: [], kept: 0, total: 0 },
    status: null,
    responseHeaders: null,
    responseBody: { chunks: [], kept: 0, total: 0 },
    error: null,
    durationMs: null
  }
  observer.started(exchange)
  req.on('data', (chunk: Buffer) => keep(exchange.requestBody, chunk, observer.previewBytes))
  return exchange
}

/** Adds a chunk to a preview, up to `limit` bytes kept. */
export function keep(preview: BodyPreview, chunk: Buffer, limit: number): void {
  preview.total += chunk.length
  if (preview.kept >= limit) return
  const part = chunk.subarray(0, limit - preview.kept)
  // A copy: the chunk's memory belongs to a larger buffer the preview must not keep alive.
  preview.chunks.push(Buffer.from(part))
  preview.kept += part.length
}
