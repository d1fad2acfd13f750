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
  const details = parsed.error.issues.map((i) => {
    const where = describeField(i.path)
    return where ? `${where}: ${i.message}` : i.message
  })
  return fail('invalid-input', `${refusal(name)}: ${details[0]}`, details)
}

/** Field names as Settings and the other views label them; anything else is split into words. */
const FIELD_WORDS: Record<string, string> = {
  proxyAuth: 'LAN access',
  listenHost: 'listen address',
  systemProxy: 'system proxy',
  bypass: 'bypass list',
  guard: 'when another program changes it',
  trustedCas: 'trusted certificate authorities',
  connectSeconds: 'connect timeout',
  responseHeadersSeconds: 'response timeout',
  idleTunnelSeconds: 'idle tunnel timeout',
  idleClientSeconds: 'idle client timeout',
  via: 'Via header',
  desktop: 'desktop'
}

/**
 * A zod path in words, as a person reads it: `[0, 'systemProxy', 'bypass', 1]` is "system proxy,
 * bypass list, entry 2". The leading argument index means nothing to anyone and is dropped.
 */
function describeField(path: readonly PropertyKey[]): string {
  const words = path.slice(typeof path[0] === 'number' ? 1 : 0).map((key) =>
    typeof key === 'number'
      ? `entry ${key + 1}`
      : (FIELD_WORDS[String(key)] ??
        String(key)
          .replace(/([a-z])([A-Z])/g, '$1 $2')
          .toLowerCase())
  )
  return words.join(', ')
}

/** What did not happen, in words: the contract's method names are not for people. */
function refusal(name: ApiMethod): string {
  if (/^(update|save|set|add|rename|import)/.test(name)) return 'Not saved'
  if (/^(delete|remove|close)/.test(name)) return 'Nothing was removed'
  return 'Not done'
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
