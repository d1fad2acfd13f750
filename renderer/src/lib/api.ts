/**
 * The renderer's one client of the contract. In the desktop app it calls `window.api` (the preload);
 * in a browser it talks to the headless dashboard's WebSocket, which carries the same calls. Either
 * way `Result`s are unwrapped into values or thrown `AppError`s, and no component knows which.
 */
import {
  API_EVENTS,
  API_METHODS,
  type ApiEvent,
  type ApiMethod,
  type AppApi,
  type AppEvents
} from '../../../common/ipc-contract.ts'
import type { AppErrorCode, Result } from '../../../common/result.ts'

export class AppError extends Error {
  readonly code: AppErrorCode
  constructor(code: AppErrorCode, message: string) {
    super(message)
    this.code = code
  }
}

type Listener<K extends ApiEvent> = (payload: AppEvents[K]) => void
type Bridge = AppApi & { [K in ApiEvent]: (listener: Listener<K>) => () => void }

/**
 * The state of the link to Junction. `reconnecting`: the link dropped and is being retried;
 * `lost`: retried for a while without success (still retried, at the longest interval), or refused
 * because the page's access was withdrawn (`refused`, not retried). The desktop's link never drops.
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
  error instanceof AppError && error.message === UNREACHABLE

/** Back-off between attempts: 0.5 s doubling to 5 s; after 30 s of failures the link counts as lost. */
const FIRST_RETRY_MS = 500
const LONGEST_RETRY_MS = 5000
const LOST_AFTER_MS = 30_000
/** The server's close code when the dashboard token was rotated by another page. */
const TOKEN_ROTATED = 4401

const reconnectListeners = new Set<() => void>()

/** The dashboard transport: request/response by id, events pushed as `{ event, payload }`. */
function webSocketBridge(url: string, onLink: (state: LinkState) => void): Bridge & { retryNow(): void } {
  const listeners = new Map<ApiEvent, Set<(payload: unknown) => void>>()
  const pending = new Map<number, (result: Result<unknown>) => void>()
  let nextId = 1
  let socket: WebSocket | null = null
  let attempts = 0
  let failingSince: number | null = null
  let timer: ReturnType<typeof setTimeout> | null = null
  let refused = false
  /** Calls made before the first connection wait for it (or for its failure) instead of failing. */
  let firstSettled: () => void = () => undefined
  const firstOpen = new Promise<void>((resolve) => (firstSettled = resolve))

  const open = (): void => {
    if (timer) clearTimeout(timer)
    timer = null
    const ws = new WebSocket(url)
    ws.onopen = () => {
      socket = ws
      const reconnected = failingSince !== null
      attempts = 0
      failingSince = null
      onLink({ status: 'connected', refused: false, retryAt: null })
      firstSettled()
      // A restarted Junction has new state: tell every subscriber to read it again.
      if (reconnected) for (const listener of reconnectListeners) listener()
    }
    ws.onclose = (event) => {
      socket = null
      for (const settle of pending.values())
        settle({ ok: false, error: { code: 'io-error', message: UNREACHABLE } })
      pending.clear()
      if (event.code === TOKEN_ROTATED) return refuse()
      void retry()
    }
    ws.onmessage = (message: MessageEvent<string>) => {
      const data = JSON.parse(message.data) as {
        id?: number
        result?: Result<unknown>
        event?: ApiEvent
        payload?: unknown
      }
      if (data.event) for (const listener of listeners.get(data.event) ?? []) listener(data.payload)
      else if (typeof data.id === 'number' && data.result) {
        pending.get(data.id)?.(data.result)
        pending.delete(data.id)
      }
    }
  }

  const refuse = (): void => {
    refused = true
    firstSettled()
    onLink({ status: 'lost', refused: true, retryAt: null })
  }

  /** The WebSocket cannot say why it failed; a plain request tells "refused" (401) from "not there". */
  const retry = async (): Promise<void> => {
    if (refused || timer) return
    failingSince ??= Date.now()
    const status = await fetch('/', { method: 'HEAD', cache: 'no-store' }).then(
      (response) => response.status,
      () => null
    )
    if (status === 401) return refuse()
    const delay = Math.min(FIRST_RETRY_MS * 2 ** attempts++, LONGEST_RETRY_MS)
    const lost = Date.now() - failingSince >= LOST_AFTER_MS
    onLink({ status: lost ? 'lost' : 'reconnecting', refused: false, retryAt: Date.now() + delay })
    firstSettled()
    timer = setTimeout(open, delay)
  }

  open()

  const call = async (method: ApiMethod, args: unknown[]): Promise<Result<unknown>> => {
    // Fail at once rather than queue: the user sees the link is down, and a queued click firing
    // minutes later, against a restarted Junction, would surprise.
    const ws = socket
    if (!ws || ws.readyState !== WebSocket.OPEN)
      return { ok: false, error: { code: 'io-error', message: UNREACHABLE } }
    const id = nextId++
    return new Promise((resolve) => {
      pending.set(id, resolve)
      ws.send(JSON.stringify({ id, method, args }))
    })
  }

  const methods = Object.fromEntries(
    API_METHODS.map((m) => [m, async (...args: unknown[]) => (await firstOpen, call(m, args))])
  )
  const events = Object.fromEntries(
    API_EVENTS.map((name) => [
      name,
      (listener: (payload: unknown) => void) => {
        const set = listeners.get(name) ?? new Set()
        listeners.set(name, set.add(listener))
        return () => set.delete(listener)
      }
    ])
  )
  return {
    ...methods,
    ...events,
    retryNow() {
      if (refused || socket) return
      attempts = 0
      open()
    }
  } as unknown as Bridge & { retryNow(): void }
}

let linkState: LinkState = { status: 'connected', refused: false, retryAt: null }
const linkListeners = new Set<(state: LinkState) => void>()

const injected = (globalThis as unknown as { api?: Bridge }).api
const socketBridge = injected
  ? null
  : webSocketBridge(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`, (state) => {
      linkState = state
      for (const listener of linkListeners) listener(state)
    })
const bridge: Bridge = injected ?? socketBridge!

/** The link to Junction: its state now, changes, reconnections, and a retry on request. */
export const link = {
  /** False in the desktop window, whose link (IPC) cannot drop. */
  remote: socketBridge !== null,
  get state(): LinkState {
    return linkState
  },
  onChange(listener: (state: LinkState) => void): () => void {
    linkListeners.add(listener)
    return () => linkListeners.delete(listener)
  },
  /** Runs after every reconnection, e.g. to reload what a restarted Junction holds. */
  onReconnect(listener: () => void): () => void {
    reconnectListeners.add(listener)
    return () => reconnectListeners.delete(listener)
  },
  retryNow(): void {
    socketBridge?.retryNow()
  },
  /** After a token rotation: trades the new token for this page's cookie, so reloads keep working. */
  async adoptToken(url: string): Promise<void> {
    const token = new URL(url).searchParams.get('token')
    if (token) await fetch(`/?token=${encodeURIComponent(token)}`, { method: 'HEAD', cache: 'no-store' })
  }
}

async function unwrap<T>(pending: Promise<Result<T>>): Promise<T> {
  const result = await pending
  if (!result.ok) throw new AppError(result.error.code, result.error.message)
  return result.value
}

type Unwrapped = {
  [K in ApiMethod]: (
    ...args: Parameters<AppApi[K]>
  ) => Promise<Awaited<ReturnType<AppApi[K]>> extends Result<infer T> ? T : never>
}

/** Every contract method, returning the value or throwing `AppError`, plus the `onX` event subscriptions. */
export const api = {
  ...(Object.fromEntries(
    API_METHODS.map((m) => [
      m,
      (...args: unknown[]) => unwrap((bridge[m] as (...a: unknown[]) => Promise<Result<unknown>>)(...args))
    ])
  ) as Unwrapped),
  ...(Object.fromEntries(API_EVENTS.map((e) => [e, bridge[e]])) as { [K in ApiEvent]: Bridge[K] })
}
