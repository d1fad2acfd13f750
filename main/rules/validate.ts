/**
 * Turns untrusted JSON (a config file, an IPC payload) into a Profile, or into messages a person can
 * act on: every message names the profile, the rule (by name or id and position) and the field.
 */
import type { z } from 'zod'
import { MAX_CHAIN_HOPS, ProfileSchema, RuleSchema, type Profile, type Rule } from '../../common/model.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { checkMatcherValue } from '../../common/matcher-checks.ts'
import { checkBodyPattern } from './body-edits.ts'

type Issue = z.core.$ZodIssue

function ruleLabel(raw: unknown, index: number): string {
  const rule = raw as { id?: unknown; name?: unknown } | undefined
  const name = typeof rule?.name === 'string' && rule.name ? rule.name : rule?.id
  return typeof name === 'string' ? `rule "${name}" (#${index + 1})` : `rule #${index + 1}`
}

/**
 * Renders a zod path like ['rules', 3, 'matchers', 0, 'value'] in words:
 * `rule "Trackers" (#4), matcher #1, value`.
 */
function describePath(input: unknown, path: readonly PropertyKey[]): string {
  const parts: string[] = []
  const root = input as { rules?: unknown[]; upstreams?: unknown[]; groups?: unknown[] } | undefined
  for (let i = 0; i < path.length; i++) {
    const key = path[i]
    const next = path[i + 1]
    if ((key === 'rules' || key === 'upstreams' || key === 'groups') && typeof next === 'number') {
      const list = Array.isArray(root?.[key]) ? root[key] : []
      parts.push(
        key === 'rules'
          ? ruleLabel(list[next], next)
          : `${key === 'groups' ? 'group' : 'upstream'} #${next + 1}`
      )
      i++
    } else if (key === 'members' && typeof next === 'number') {
      parts.push(`member #${next + 1}`)
      i++
    } else if (key === 'matchers' && typeof next === 'number') {
      parts.push(`matcher #${next + 1}`)
      i++
    } else if (key === 'rewrite' && (next === 'request' || next === 'response')) {
      // ['rewrite', 'response', 0, 'name'] reads "response header edit #1, name".
      const index = path[i + 2]
      parts.push(typeof index === 'number' ? `${next} header edit #${index + 1}` : `${next} header edits`)
      i += typeof index === 'number' ? 2 : 1
    } else if (key === 'rewrite' && (next === 'responseBody' || next === 'requestBody')) {
      const direction = next === 'responseBody' ? 'response' : 'request'
      const index = path[i + 2]
      parts.push(
        typeof index === 'number' ? `${direction} body edit #${index + 1}` : `${direction} body edits`
      )
      i += typeof index === 'number' ? 2 : 1
    } else if (key === 'respondWith') {
      parts.push('mock response')
    } else if (key === 'rewrite') {
      parts.push('header edits')
    } else {
      parts.push(String(key))
    }
  }
  return parts.join(', ')
}

function zodMessages(input: unknown, issues: readonly Issue[]): string[] {
  return issues.map((issue) => {
    const where = describePath(input, issue.path)
    return where ? `${where}: ${issue.message}` : issue.message
  })
}

/** Problems zod cannot see: values that must compile, references that must resolve, unique ids. */
function semanticMessages(profile: Profile): string[] {
  const messages: string[] = []
  const upstreamIds = new Set<string>()
  for (const [i, upstream] of profile.upstreams.entries()) {
    if (upstreamIds.has(upstream.id)) messages.push(`upstream #${i + 1}: id "${upstream.id}" is used twice`)
    upstreamIds.add(upstream.id)
    // RFC 7617: the user-id of Basic auth cannot contain a colon; SOCKS has no such limit.
    if ((upstream.scheme === 'http' || upstream.scheme === 'https') && upstream.username?.includes(':'))
      messages.push(
        `upstream #${i + 1} ("${upstream.name}"), username: HTTP proxies cannot take a username containing ":"`
      )
  }
  messages.push(...chainMessages(profile))
  const groupIds = new Set<string>()
  for (const [i, group] of (profile.groups ?? []).entries()) {
    const label = `group #${i + 1} ("${group.name}")`
    if (upstreamIds.has(group.id) || groupIds.has(group.id))
      messages.push(`${label}: id "${group.id}" is used twice (upstream and group ids must differ)`)
    groupIds.add(group.id)
    for (const [j, member] of group.members.entries())
      if (!upstreamIds.has(member))
        messages.push(`${label}, member #${j + 1}: no upstream with id "${member}" in this profile`)
    if (new Set(group.members).size !== group.members.length)
      messages.push(`${label}, members: an upstream is listed twice`)
    if (group.selected !== undefined && !group.members.includes(group.selected))
      messages.push(`${label}, selected: "${group.selected}" is not a member of the group`)
  }
  const targetIds = new Set([...upstreamIds, ...groupIds])
  const ruleIds = new Set<string>()
  for (const [i, rule] of profile.rules.entries()) {
    if (ruleIds.has(rule.id)) messages.push(`${ruleLabel(rule, i)}: id "${rule.id}" is used twice`)
    ruleIds.add(rule.id)
    messages.push(...ruleMessages(rule, i, targetIds))
  }
  const fallback = profile.defaultAction
  if (fallback.type === 'upstream' && !targetIds.has(fallback.upstreamId))
    messages.push(`default action: no upstream or group with id "${fallback.upstreamId}" in this profile`)
  return messages
}

/** What zod cannot see in one rule: matcher values, body patterns, the upstream or group it names. */
function ruleMessages(rule: Rule, index: number, targetIds: ReadonlySet<string>): string[] {
  const messages: string[] = []
  const label = ruleLabel(rule, index)
  for (const [j, matcher] of rule.matchers.entries()) {
    const problem = checkMatcherValue(matcher)
    if (problem) messages.push(`${label}, matcher #${j + 1} (${matcher.type}): ${problem}`)
  }
  for (const direction of ['request', 'response'] as const)
    for (const [j, edit] of (rule.rewrite?.[`${direction}Body`] ?? []).entries()) {
      const problem = edit.regex ? checkBodyPattern(edit.find) : null
      if (problem)
        messages.push(
          `${label}, ${direction} body edit #${j + 1}, find: invalid regular expression: ${problem}`
        )
    }
  if (rule.action.type === 'upstream' && !targetIds.has(rule.action.upstreamId))
    messages.push(
      `${label}, action: no upstream or group with id "${rule.action.upstreamId}" in this profile`
    )
  return messages
}

/** `via` must name another upstream of the profile, without cycles, in chains of at most MAX_CHAIN_HOPS. */
function chainMessages(profile: Profile): string[] {
  const messages: string[] = []
  const byId = new Map(profile.upstreams.map((u) => [u.id, u]))
  for (const [i, upstream] of profile.upstreams.entries()) {
    if (upstream.via === undefined) continue
    const label = `upstream #${i + 1} ("${upstream.name}"), via`
    if (!byId.has(upstream.via)) {
      messages.push(`${label}: no upstream with id "${upstream.via}" in this profile`)
      continue
    }
    const names = [upstream.name]
    const seen = new Set([upstream.id])
    for (let hop = byId.get(upstream.via); hop; hop = hop.via === undefined ? undefined : byId.get(hop.via)) {
      names.push(hop.name)
      if (seen.has(hop.id)) {
        messages.push(`${label}: the chain loops back (${names.join(' → ')})`)
        break
      }
      seen.add(hop.id)
      if (names.length > MAX_CHAIN_HOPS) {
        messages.push(`${label}: the chain has more than ${MAX_CHAIN_HOPS} hops (${names.join(' → ')} …)`)
        break
      }
    }
  }
  return messages
}

export function parseProfile(input: unknown): Result<Profile> {
  const parsed = ProfileSchema.safeParse(input)
  const name = (input as { name?: unknown } | null)?.name
  const title = typeof name === 'string' ? `Profile "${name}" is invalid` : 'Profile is invalid'
  if (!parsed.success) {
    const details = zodMessages(input, parsed.error.issues)
    return fail('invalid-input', `${title}: ${details[0]}`, details)
  }
  const details = semanticMessages(parsed.data)
  if (details.length > 0) return fail('invalid-input', `${title}: ${details[0]}`, details)
  return ok(parsed.data)
}

/**
 * One rule checked on its own against a saved profile (whose other rules were valid when saved), for
 * per-rule edits of profiles with 100,000 rules. `index` is where the rule is or will be, so messages
 * name it as the whole-profile check would: `Rule "Trackers" (#4) is invalid: matcher #1 (regex): …`.
 * Id uniqueness is the caller's: it knows which ids the edit replaces.
 */
export function parseRule(profile: Profile, input: unknown, index: number): Result<Rule> {
  const label = ruleLabel(input, index)
  // The title names the rule once; the details repeat it, as the whole-profile check's do.
  const refuse = (details: string[]): Result<Rule> =>
    fail(
      'invalid-input',
      `${label[0]!.toUpperCase()}${label.slice(1)} is invalid: ${details[0]!.slice(label.length).replace(/^[,:] /, '')}`,
      details
    )
  // describePath reads the rule's label from its place in a list; a sparse one costs nothing.
  const rules: unknown[] = []
  rules[index] = input
  const parsed = RuleSchema.safeParse(input)
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => {
      const where = describePath({ rules }, ['rules', index, ...issue.path])
      return `${where}: ${issue.message}`
    })
    return refuse(details)
  }
  const targetIds = new Set([...profile.upstreams, ...(profile.groups ?? [])].map((t) => t.id))
  const details = ruleMessages(parsed.data, index, targetIds)
  return details.length > 0 ? refuse(details) : ok(parsed.data)
}
