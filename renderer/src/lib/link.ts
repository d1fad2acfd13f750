/**
 * The state of the UI's link to Junction, apart from the transport that drives it (api.ts), so that
 * stores and views can watch it without importing the transport. In the desktop window the link is
 * IPC and never drops; in the dashboard it is a WebSocket that api.ts reconnects after a restart.
 */

/**
 * `reconnecting`: the link dropped and is being retried; `lost`: retried for a while without success
 * (still retried, at the longest interval), or refused because the page's access was withdrawn
 * (`refused`, not retried).
 */
export interface LinkState {
  status: 'connected' | 'reconnecting' | 'lost'
  refused: boolean
  /** When the next attempt is due (ms since the epoch), or null while connected or refused. */
  retryAt: number | null
}

/** The message of every call made while Junction cannot be reached; the link indicator says it once. */
export const UNREACHABLE = 'Cannot reach Junction'

/** A call failed because the link is down: the indicator already says so, a view need not repeat it. */
export const isUnreachable = (error: unknown): boolean =>
  error instanceof Error && (error as { code?: unknown }).code === 'io-error' && error.message === UNREACHABLE

/** Back-off between attempts: 0.5 s doubling to 5 s, so a restart is picked up within 5 s of it. */
export const retryDelay = (attempt: number): number => Math.min(500 * 2 ** attempt, 5000)

/** After 30 s of failed attempts the link counts as lost (and is still retried, every 5 s). */
export const linkStatusAfter = (failingMs: number): 'reconnecting' | 'lost' =>
  failingMs >= 30_000 ? 'lost' : 'reconnecting'

let state: LinkState = { status: 'connected', refused: false, retryAt: null }
const changeListeners = new Set<(state: LinkState) => void>()
const reconnectListeners = new Set<() => void>()
let retry: (() => void) | null = null

export const link = {
  /** True once a transport that can drop (the dashboard's WebSocket) has attached. */
  remote: false,
  get state(): LinkState {
    return state
  },
  onChange(listener: (state: LinkState) => void): () => void {
    changeListeners.add(listener)
    return () => void changeListeners.delete(listener)
  },
  /** Runs after every reconnection, e.g. to reload what a restarted Junction holds. */
  onReconnect(listener: () => void): () => void {
    reconnectListeners.add(listener)
    return () => void reconnectListeners.delete(listener)
  },
  retryNow(): void {
    retry?.()
  },
  /** After a token rotation: trades the new token for this page's cookie, so reloads keep working. */
  async adoptToken(url: string): Promise<void> {
    const token = new URL(url).searchParams.get('token')
    if (token) await fetch(`/?token=${encodeURIComponent(token)}`, { method: 'HEAD', cache: 'no-store' })
  }
}

/** For the transport: attaches it (with its "retry now"), and reports changes and reconnections. */
export const linkDriver = {
  attach(retryNow: () => void): void {
    link.remote = true
    retry = retryNow
  },
  set(next: LinkState): void {
    state = next
    for (const listener of changeListeners) listener(next)
  },
  reconnected(): void {
    for (const listener of reconnectListeners) listener()
  }
}
