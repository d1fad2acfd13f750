/**
 * Outcomes that cross module and process boundaries as data. Electron keeps only the message of a
 * thrown error, so anything a user must understand travels as `{ ok: false, error }` instead.
 */
export type Result<T, E = AppError> = { ok: true; value: T } | Failure<E>
export type Failure<E = AppError> = { ok: false; error: E }

export type AppErrorCode =
  'invalid-input' | 'not-found' | 'conflict' | 'read-only' | 'io-error' | 'engine-error'

export interface AppError {
  code: AppErrorCode
  message: string
  /** Individual problems, each naming the rule or field it is about. */
  details?: string[]
}

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value })
export const fail = (code: AppErrorCode, message: string, details?: string[]): Failure => ({
  ok: false,
  error: details ? { code, message, details } : { code, message }
})
