/**
 * Per-rule changes to a saved profile — add, replace, delete, move, enable — so that the Rules view of
 * a 100,000-rule profile sends one rule, not the whole profile. Pure: each function takes the saved
 * profile and returns the new rule list, or a message that names the rule. Only the rules a change
 * brings in are validated (parseRule); the others were valid when they were saved.
 *
 * Positions are where rules end up: `{ index: 3 }` puts a rule fourth in the new list. Entries are
 * applied in ascending order of position, which is what undo needs: deleted rules put back at the
 * positions they were deleted from land exactly where they were, whatever the selection was.
 */
import type { Profile, Rule } from '../../common/model.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { placeAt } from '../../common/rule-order.ts'
import { parseRule } from './validate.ts'

export interface PlacedRule {
  rule: Rule
  index: number
}

export interface RulePlacement {
  ruleId: string
  index: number
}

/**
 * Where the rules with `ids` are, found in one pass that stops when all are found: an edit names a
 * few rules, and indexing all 100,000 ids for it cost more than the rest of the check.
 */
function positionsOf(rules: readonly Rule[], ids: Iterable<string>): Map<string, number> {
  const wanted = new Set(ids)
  const found = new Map<string, number>()
  for (let index = 0; index < rules.length && found.size < wanted.size; index++) {
    const id = rules[index]!.id
    if (wanted.has(id)) found.set(id, index)
  }
  return found
}

function missing(
  profile: Profile,
  ids: readonly string[],
  known: ReadonlyMap<string, number>
): Result<never> | null {
  const absent = ids.filter((id) => !known.has(id))
  if (absent.length === 0) return null
  const more = absent.length > 1 ? ` (and ${absent.length - 1} more)` : ''
  return fail(
    'not-found',
    `No rule with id "${absent[0]}" in profile "${profile.name}"${more}; it may have been changed elsewhere`
  )
}

function twice(ids: readonly string[]): string | null {
  const seen = new Set<string>()
  for (const id of ids) {
    if (seen.has(id)) return id
    seen.add(id)
  }
  return null
}

function idTaken({ id, name }: Rule, index: number): Result<never> {
  return fail(
    'conflict',
    `Rule "${name || id}" (#${index + 1}) cannot be added: the id "${id}" is already used in this profile`
  )
}

/** New rules at their positions; their ids must be new to the profile. */
export function insertRules(
  profile: Profile,
  entries: readonly { rule: unknown; index: number }[]
): Result<{ rules: Rule[] }> {
  const parsed: PlacedRule[] = []
  const ids = new Set<string>()
  for (const { rule, index } of entries) {
    const checked = parseRule(profile, rule, index)
    if (!checked.ok) return checked
    if (ids.has(checked.value.id)) return idTaken(checked.value, index)
    ids.add(checked.value.id)
    parsed.push({ rule: checked.value, index })
  }
  const taken = positionsOf(profile.rules, ids)
  const clash = parsed.find(({ rule }) => taken.has(rule.id))
  if (clash) return idTaken(clash.rule, clash.index)
  const rules = placeAt(
    profile.rules,
    parsed.map(({ rule, index }) => ({ item: rule, index }))
  )
  return rules.ok ? ok({ rules: rules.value }) : rules
}

/** Replaces the rule with the same id, where it is. */
export function replaceRule(profile: Profile, input: unknown): Result<{ rules: Rule[]; rule: Rule }> {
  const id = (input as { id?: unknown } | null)?.id
  const known = positionsOf(profile.rules, typeof id === 'string' ? [id] : [])
  const index = typeof id === 'string' ? known.get(id) : undefined
  if (index === undefined) return missing(profile, [String(id)], known)!
  const checked = parseRule(profile, input, index)
  if (!checked.ok) return checked
  const rules = profile.rules.slice()
  rules[index] = checked.value
  return ok({ rules, rule: checked.value })
}

/** Removes rules; `removed` holds them with their positions, which `insertRules` takes to undo it. */
export function removeRules(
  profile: Profile,
  ids: readonly string[]
): Result<{ rules: Rule[]; removed: PlacedRule[] }> {
  const known = positionsOf(profile.rules, ids)
  const absent = missing(profile, ids, known)
  if (absent) return absent
  const gone = new Set(ids)
  const rules: Rule[] = []
  const removed: PlacedRule[] = []
  for (const [index, rule] of profile.rules.entries())
    if (gone.has(rule.id)) removed.push({ rule, index })
    else rules.push(rule)
  return ok({ rules, removed })
}

/**
 * Moves rules to new positions. A block moved together lists consecutive positions; undo passes
 * the positions they had before (`before`, returned here).
 */
export function placeRules(
  profile: Profile,
  placements: readonly RulePlacement[]
): Result<{ rules: Rule[]; before: RulePlacement[] }> {
  const ids = placements.map((p) => p.ruleId)
  const repeated = twice(ids)
  if (repeated !== null) return fail('invalid-input', `Rule "${repeated}" is listed twice in one move`)
  const removed = removeRules(profile, ids)
  if (!removed.ok) return removed
  const byId = new Map(removed.value.removed.map((p) => [p.rule.id, p.rule]))
  const rules = placeAt(
    removed.value.rules,
    placements.map((p) => ({ item: byId.get(p.ruleId)!, index: p.index }))
  )
  if (!rules.ok) return rules
  const before = removed.value.removed.map(({ rule, index }) => ({ ruleId: rule.id, index }))
  return ok({ rules: rules.value, before })
}

/** Switches rules on or off; the others are left as they are. */
export function setRulesEnabled(
  profile: Profile,
  ids: readonly string[],
  enabled: boolean
): Result<{ rules: Rule[] }> {
  const known = positionsOf(profile.rules, ids)
  const absent = missing(profile, ids, known)
  if (absent) return absent
  const chosen = new Set(ids)
  return ok({
    rules: profile.rules.map((rule) =>
      chosen.has(rule.id) && rule.enabled !== enabled ? { ...rule, enabled } : rule
    )
  })
}
