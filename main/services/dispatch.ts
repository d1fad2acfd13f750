/**
 * The checkpoint every call from a UI passes: the method must exist in the contract, the arguments
 * must match its schema, and whatever the handler throws comes back as a `Result`, never as a crash.
 * This is the one place a UI's payload is validated; the service trusts what it is handed.
 */
import type { ApiMethod, AppApi } from '../../common/ipc-contract.ts'
import { API_PAYLOADS } from '../../common/ipc-payloads.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { parseProfile } from '../rules/validate.ts'

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.hasOwn(API_PAYLOADS, name)
}

/**
 * The arguments, validated. A saved profile goes through `parseProfile` rather than the bare schema:
 * it also checks matcher values and upstream references, and its messages name the rule and field
 * in words ("rule "Trackers" (#2), matcher #1 (regex): …"), as the editor shows them.
 */
function checkArgs(name: ApiMethod, args: unknown): Result<unknown[]> {
  if (name === 'saveProfile' && Array.isArray(args) && args.length === 1) {
    const profile = parseProfile(args[0])
    return profile.ok ? ok([profile.value]) : profile
  }
  const parsed = API_PAYLOADS[name].safeParse(args)
  if (parsed.success) return ok(parsed.data as unknown[])
  const details = parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`)
  return fail('invalid-input', `Invalid arguments for ${name}: ${details[0]}`, details)
}

export async function dispatch(api: AppApi, name: unknown, args: unknown): Promise<Result<unknown>> {
  // Not String(name): a payload such as [{ "toString": "" }] makes it throw, and a throw here would
  // reach the dashboard as an unhandled rejection.
  if (!isApiMethod(name))
    return fail(
      'invalid-input',
      `Unknown call ${typeof name === 'string' ? `"${name.slice(0, 64)}"` : `(${typeof name})`}`
    )
  const checked = checkArgs(name, args)
  if (!checked.ok) return checked
  try {
    const method = api[name] as (...a: unknown[]) => Promise<Result<unknown>>
    return await method(...checked.value)
  } catch (error) {
    return fail('engine-error', `${name} failed: ${(error as Error).message}`)
  }
}
