/**
 * What the Connections and Activity views show for a connection or request, and the one rule both
 * their filters follow: a filter matches what is on screen. Main filters (it pages and closes
 * matching connections) and the renderer labels, so both read the labels from here.
 */
import type { ConnectionView, NamedRequestLogEntry } from './model.ts'

export type ConnectionKind = ConnectionView['kind']

export const KIND_LABELS: Record<ConnectionKind, { label: string; title: string }> = {
  http: { label: 'HTTP', title: 'Plain HTTP requests, one after another on a keep-alive connection' },
  connect: { label: 'CONNECT', title: 'A tunnel: HTTPS or other TCP, passed through unread' },
  upgrade: {
    label: 'WebSocket/Upgrade',
    title: 'A plain-HTTP request that switched protocols; long-lived, it stays open as a tunnel'
  }
}

/** `host:port`, with IPv6 literals in brackets as users type them into a browser. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * True when every word of `query` (case-insensitive) appears in one of the `shown` texts, so
 * "squid connect" finds a CONNECT tunnel through the upstream named Squid. An empty query matches.
 */
export function matchesShown(shown: readonly (string | number | null)[], query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean)
  if (words.length === 0) return true
  const texts = shown.filter((t) => t !== null).map((t) => String(t).toLowerCase())
  return words.every((word) => texts.some((text) => text.includes(word)))
}

/** What the Connections view shows of an open connection. */
export function shownConnection(view: ConnectionView): string[] {
  return [
    view.target,
    view.client,
    KIND_LABELS[view.kind].label,
    view.profileName,
    view.ruleName,
    view.routeName
  ]
}

/** The status cell of an Activity row: `200`, `502 (upstream-refused)`, `—` when no reply was sent. */
export function statusText(entry: Pick<NamedRequestLogEntry, 'status' | 'error'>): string {
  return `${entry.status || '—'}${entry.error ? ` (${entry.error})` : ''}`
}

/** What the Activity view shows of a request. */
export function shownRequest(entry: NamedRequestLogEntry): string[] {
  return [
    entry.method,
    hostPort(entry.host, entry.port),
    statusText(entry),
    entry.profileName,
    entry.ruleName,
    entry.routeName
  ]
}
