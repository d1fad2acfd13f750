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
import { linkDriver, linkStatusAfter, retryDelay, UNREACHABLE } from './link.ts'

export class AppError extends Error {
  readonly code: AppErrorCode
  constructor(code: AppErrorCode, message: string) {
    super(message)
    this.code = code
  }
}

type Listener<K extends ApiEvent> = (payload: AppEvents[K]) => void
type Bridge = AppApi & { [K in ApiEvent]: (listener: Listener<K>) => () => void }

/** The server's close code when the dashboard token was rotated by another page. */
const TOKEN_ROTATED = 4401

/** The dashboard transport: request/response by id, events pushed as `{ event, payload }`. */
function webSocketBridge(url: string): Bridge {
  const onLink = linkDriver.set
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
      if (reconnected) linkDriver.reconnected()
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
    const delay = retryDelay(attempts++)
    onLink({
      status: linkStatusAfter(Date.now() - failingSince),
      refused: false,
      retryAt: Date.now() + delay
    })
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
  // "Retry now" only while waiting for the next attempt: one attempt at a time, never two sockets.
  linkDriver.attach(() => {
    if (refused || socket || !timer) return
    attempts = 0
    open()
  })
  return { ...methods, ...events } as unknown as Bridge
}

const injected = (globalThis as unknown as { api?: Bridge }).api
/** The desktop app (its preload injected `window.api`), not the headless dashboard in a browser. */
export const isDesktop = injected !== undefined
const bridge: Bridge =
  injected ?? webSocketBridge(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`)

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
