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

/** The dashboard transport: request/response by id, events pushed as `{ event, payload }`. */
function webSocketBridge(url: string): Bridge {
  const listeners = new Map<ApiEvent, Set<(payload: unknown) => void>>()
  const pending = new Map<number, (result: Result<unknown>) => void>()
  let nextId = 1
  let socket: WebSocket | null = null
  let ready: Promise<WebSocket> | null = null

  const connect = (): Promise<WebSocket> =>
    (ready ??= new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.onopen = () => resolve((socket = ws))
      ws.onerror = () =>
        reject(new AppError('io-error', 'Cannot reach Junction (the dashboard connection failed)'))
      ws.onclose = () => {
        ready = null
        socket = null
        for (const settle of pending.values())
          settle({ ok: false, error: { code: 'io-error', message: 'The connection to Junction was closed' } })
        pending.clear()
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
    }))

  const call = async (method: ApiMethod, args: unknown[]): Promise<Result<unknown>> => {
    const ws = socket ?? (await connect())
    const id = nextId++
    return new Promise((resolve) => {
      pending.set(id, resolve)
      ws.send(JSON.stringify({ id, method, args }))
    })
  }

  const methods = Object.fromEntries(API_METHODS.map((m) => [m, (...args: unknown[]) => call(m, args)]))
  const events = Object.fromEntries(
    API_EVENTS.map((name) => [
      name,
      (listener: (payload: unknown) => void) => {
        void connect().catch(() => undefined)
        const set = listeners.get(name) ?? new Set()
        listeners.set(name, set.add(listener))
        return () => set.delete(listener)
      }
    ])
  )
  return { ...methods, ...events } as unknown as Bridge
}

const injected = (globalThis as unknown as { api?: Bridge }).api
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
