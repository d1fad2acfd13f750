/**
 * The checkpoint every call from a UI passes: the method must exist in the contract, the arguments
 * must match its schema, and whatever the handler throws comes back as a `Result`, never as a crash.
 */
import type { ApiMethod, AppApi } from '../../common/ipc-contract.ts'
import { API_PAYLOADS } from '../../common/ipc-payloads.ts'
import { fail, type Result } from '../../common/result.ts'

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.hasOwn(API_PAYLOADS, name)
}

export async function dispatch(api: AppApi, name: unknown, args: unknown): Promise<Result<unknown>> {
  if (!isApiMethod(name)) return fail('invalid-input', `Unknown call "${String(name).slice(0, 64)}"`)
  const parsed = API_PAYLOADS[name].safeParse(args)
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`)
    return fail('invalid-input', `Invalid arguments for ${name}: ${details[0]}`, details)
  }
  try {
    const method = api[name] as (...a: unknown[]) => Promise<Result<unknown>>
    return await method(...(parsed.data as unknown[]))
  } catch (error) {
    return fail('engine-error', `${name} failed: ${(error as Error).message}`)
  }
}
