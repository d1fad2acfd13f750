/**
 * Profile, rule and upstream names for what users read (Connections, Activity, the CSV export) in
 * place of the ids statistics are kept by.
 *
 * Names are resolved when a view is read, from the profiles as they are then, not stored when a
 * request is logged. A log would ideally keep the name a rule had at the time, but storing it costs
 * every request (the engine records thousands a second, and the request ring is laid out by field to
 * keep such per-request work low), while reading resolves only the page a view shows. Ids never
 * change on rename, so a renamed rule shows its new name; one deleted since shows "(deleted rule)"
 * rather than an id nobody can look up. The traffic history keeps 90 days by id for the same reason.
 */
import type { Action, Profile, Rule, ShownNames } from '../../common/model.ts'
import { explainMatcher } from '../rules/matchers.ts'

export type NameResolver = (profileId: string, ruleId: string | null, route: string) => ShownNames

export const DELETED = {
  profile: '(deleted profile)',
  rule: '(deleted rule)',
  upstream: '(deleted upstream)'
} as const

/** Until a resolver is given (unit tests of statistics alone), ids stand in for names. */
export const idsAsNames: NameResolver = (profileId, ruleId, route) => ({
  profileName: profileId,
  ruleName: ruleId ?? 'default',
  routeName: route
})

/** Route labels that are not upstream ids (route.ts). */
const PLAIN_ROUTES = new Set(['direct', 'block', 'reject'])

/**
 * Resolves against `profiles()` at each call. Per profile version (a saved profile is a new object),
 * its rules are indexed once and each rule described once, so a page of rows costs a few lookups even
 * for a profile with 100,000 rules.
 */
export function createNameResolver(profiles: () => readonly Profile[]): NameResolver {
  const ruleIndex = new WeakMap<Profile, Map<string, Rule>>()
  const described = new WeakMap<Rule, string>()

  const actionText = (list: readonly Profile[], profile: Profile, action: Action): string =>
    action.type === 'upstream'
      ? upstreamName(list, profile, action.upstreamId)
      : action.type === 'block'
        ? `block ${action.status}`
        : action.type

  const ruleName = (list: readonly Profile[], profile: Profile | undefined, ruleId: string): string => {
    if (!profile) return DELETED.rule
    let index = ruleIndex.get(profile)
    if (!index) {
      // Filled in a loop: building it from [id, rule] pairs allocates a pair per rule.
      ruleIndex.set(profile, (index = new Map()))
      for (const rule of profile.rules) index.set(rule.id, rule)
    }
    const rule = index.get(ruleId)
    if (!rule) return DELETED.rule
    if (rule.name?.trim()) return rule.name.trim()
    let text = described.get(rule)
    if (text === undefined) {
      text = `${rule.matchers.map(explainMatcher).join(' and ')} → ${actionText(list, profile, rule.action)}`
      described.set(rule, text)
    }
    return text
  }

  return (profileId, ruleId, route) => {
    const list = profiles()
    const profile = list.find((p) => p.id === profileId)
    return {
      profileName: profile?.name ?? DELETED.profile,
      ruleName: ruleId === null ? 'default' : ruleName(list, profile, ruleId),
      routeName: routeName(list, profile, route)
    }
  }
}

/** The name of a profile id or route label on its own, as the history export lists them. */
export function historyName(profiles: readonly Profile[], kind: 'profile' | 'route', id: string): string {
  if (kind === 'profile') return profiles.find((p) => p.id === id)?.name ?? DELETED.profile
  return routeName(profiles, undefined, id)
}

/**
 * A route label's name: `direct`, `block` and `reject` as they are, an upstream id as its name, and a
 * group's member (`member@group`, route.ts) as `Squid (group Office)`.
 */
function routeName(list: readonly Profile[], profile: Profile | undefined, route: string): string {
  if (PLAIN_ROUTES.has(route)) return route
  const at = route.indexOf('@')
  if (at === -1) return upstreamName(list, profile, route)
  const member = upstreamName(list, profile, route.slice(0, at))
  const groupId = route.slice(at + 1)
  const group =
    profile?.groups?.find((g) => g.id === groupId) ??
    list.flatMap((p) => p.groups ?? []).find((g) => g.id === groupId)
  return group ? `${member} (group ${group.name})` : member
}

/** The upstream's name (or a group's, as `group Work`), looked for first in the profile that used it. */
function upstreamName(list: readonly Profile[], profile: Profile | undefined, id: string): string {
  const own = profile?.upstreams.find((u) => u.id === id)
  if (own) return own.name
  // Rules name groups as they name upstreams; statistics never do (they keep the member's id).
  const group = profile?.groups?.find((g) => g.id === id)
  if (group) return `group ${group.name}`
  // That profile was edited or deleted since, or is not known (history keeps routes without their
  // profile). Ids are unique only within a profile, but the app makes random ones (`u-8fef2893`), so
  // the same id elsewhere is almost always the same upstream, in a copied profile.
  for (const p of list) for (const u of p.upstreams) if (u.id === id) return u.name
  return DELETED.upstream
}
