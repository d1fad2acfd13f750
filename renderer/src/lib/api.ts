/**
 * The renderer's one client of the contract: unwraps `Result`s into values or `AppError`s.
 */
import type { AppApi, AppEvents } from '../../../common/ipc-contract.ts'
import type { AppErrorCode, Result } from '../../../common/result.ts'

export class AppError extends Error {
  readonly code: AppErrorCode
  constructor(code: AppErrorCode, message: string) {
    super(message)
    this.code = code
  }
}

type Bridge = AppApi & { [K in keyof AppEvents]: (listener: (payload: AppEvents[K]) => void) => () => void }

const bridge = (globalThis as unknown as { api: Bridge }).api

async function unwrap<T>(pending: Promise<Result<T>>): Promise<T> {
  const result = await pending
  if (!result.ok) throw new AppError(result.error.code, result.error.message)
  return result.value
}

export const api = {
  getEngineState: () => unwrap(bridge.getEngineState()),
  onEngineState: (listener: (state: AppEvents['onEngineState']) => void) => bridge.onEngineState(listener)
}
