/**
 * Per-rule edits (main/rules/rule-edits.ts): positions land where they say, undo data puts things back
 * exactly, and every refusal names the rule, the field or the position in words.
 */
import { describe, expect, it } from 'vitest'
import type { Profile, Rule } from '../../../common/model.ts'
import {
  insertRules,
  placeRules,
  removeRules,
  replaceRule,
  setRulesEnabled
} from '../../../main/rules/rule-edits.ts'

const rule = (id: string, extra: Partial<Rule> = {}): Rule => ({
  id,
  enabled: true,
  matchers: [{ type: 'domain', value: `${id}.test` }],
  action: { type: 'direct' },
  ...extra
})

const PROFILE: Profile = {
  id: 'work',
  name: 'Work',
  upstreams: [{ id: 'squid', name: 'Squid', scheme: 'http', host: '127.0.0.1', port: 3128 }],
  groups: [{ id: 'pool', name: 'Pool', strategy: 'failover', members: ['squid'] }],
  rules: ['a', 'b', 'c', 'd', 'e'].map((id) => rule(id)),
  defaultAction: { type: 'direct' }
}

const ids = (rules: readonly Rule[]): string => rules.map((r) => r.id).join('')

describe('insertRules', () => {
  it('puts each rule at its position, in ascending order of position', () => {
    const added = insertRules(PROFILE, [
      { rule: rule('y'), index: 6 },
      { rule: rule('x'), index: 0 }
    ])
    expect(added.ok && ids(added.value.rules)).toBe('xabcdey')
  })

  it('accepts a rule that names an upstream or a group', () => {
    const added = insertRules(PROFILE, [
      { rule: rule('u', { action: { type: 'upstream', upstreamId: 'squid' } }), index: 5 },
      { rule: rule('g', { action: { type: 'upstream', upstreamId: 'pool' } }), index: 6 }
    ])
    expect(added.ok && ids(added.value.rules)).toBe('abcdeug')
  })

  it('refuses an invalid rule, naming it, its position and the field', () => {
    const bad = insertRules(PROFILE, [
      { rule: rule('r', { name: 'Ads', matchers: [{ type: 'regex', value: '(unclosed' }] }), index: 2 }
    ])
    expect(bad.ok).toBe(false)
    expect(!bad.ok && bad.error.message).toMatch(
      /^Rule "Ads" \(#3\) is invalid: matcher #1 \(regex\): .*regular expression/
    )
    const empty = insertRules(PROFILE, [{ rule: { ...rule('r'), matchers: [] }, index: 0 }])
    expect(!empty.ok && empty.error.message).toBe(
      'Rule "r" (#1) is invalid: matchers: needs at least one matcher'
    )
    const nowhere = insertRules(PROFILE, [
      { rule: rule('r', { action: { type: 'upstream', upstreamId: 'gone' } }), index: 5 }
    ])
    expect(!nowhere.ok && nowhere.error.message).toBe(
      'Rule "r" (#6) is invalid: action: no upstream or group with id "gone" in this profile'
    )
  })

  it('refuses an id the profile already uses, or one used twice in the same call', () => {
    const taken = insertRules(PROFILE, [{ rule: rule('c', { name: 'Again' }), index: 5 }])
    expect(!taken.ok && taken.error).toMatchObject({
      code: 'conflict',
      message: 'Rule "Again" (#6) cannot be added: the id "c" is already used in this profile'
    })
    const twice = insertRules(PROFILE, [
      { rule: rule('n'), index: 5 },
      { rule: rule('n'), index: 6 }
    ])
    expect(!twice.ok && twice.error.code).toBe('conflict')
  })

  it('refuses a position past the end, or two rules at one position', () => {
    const far = insertRules(PROFILE, [{ rule: rule('x'), index: 6 }])
    expect(!far.ok && far.error.message).toBe(
      'Position 7 is past the end of the list (6 rules after this change)'
    )
    const same = insertRules(PROFILE, [
      { rule: rule('x'), index: 1 },
      { rule: rule('y'), index: 1 }
    ])
    expect(!same.ok && same.error.message).toBe('Two rules cannot both go to position 2')
  })
})

describe('removeRules and its undo', () => {
  it('returns what it removed with positions that insertRules puts back exactly', () => {
    const removed = removeRules(PROFILE, ['d', 'a', 'e'])
    expect(removed.ok && ids(removed.value.rules)).toBe('bc')
    if (!removed.ok) return
    expect(removed.value.removed.map((p) => [p.rule.id, p.index])).toEqual([
      ['a', 0],
      ['d', 3],
      ['e', 4]
    ])
    const undone = insertRules({ ...PROFILE, rules: removed.value.rules }, removed.value.removed)
    expect(undone.ok && undone.value.rules).toEqual(PROFILE.rules)
  })

  it('names a rule that is not there', () => {
    const gone = removeRules(PROFILE, ['b', 'zz', 'yy'])
    expect(!gone.ok && gone.error).toMatchObject({
      code: 'not-found',
      message: 'No rule with id "zz" in profile "Work" (and 1 more); it may have been changed elsewhere'
    })
  })
})

describe('placeRules', () => {
  it('moves a selection as a block and gives back the placements that undo it', () => {
    // "b" and "d" moved together to the top (keyboard: move to position 1).
    const moved = placeRules(PROFILE, [
      { ruleId: 'b', index: 0 },
      { ruleId: 'd', index: 1 }
    ])
    expect(moved.ok && ids(moved.value.rules)).toBe('bdace')
    if (!moved.ok) return
    const undone = placeRules({ ...PROFILE, rules: moved.value.rules }, moved.value.before)
    expect(undone.ok && ids(undone.value.rules)).toBe('abcde')
  })

  it('moves one rule down one place, as Alt+↓ does', () => {
    const moved = placeRules(PROFILE, [{ ruleId: 'a', index: 1 }])
    expect(moved.ok && ids(moved.value.rules)).toBe('bacde')
  })

  it('refuses a rule listed twice, an unknown rule, and a position past the end', () => {
    expect(
      placeRules(PROFILE, [
        { ruleId: 'a', index: 0 },
        { ruleId: 'a', index: 1 }
      ])
    ).toMatchObject({ ok: false, error: { message: 'Rule "a" is listed twice in one move' } })
    expect(placeRules(PROFILE, [{ ruleId: 'q', index: 0 }])).toMatchObject({
      ok: false,
      error: { code: 'not-found' }
    })
    expect(placeRules(PROFILE, [{ ruleId: 'a', index: 5 }])).toMatchObject({
      ok: false,
      error: { message: 'Position 6 is past the end of the list (5 rules after this change)' }
    })
  })
})

describe('replaceRule and setRulesEnabled', () => {
  it('replaces a rule where it is, validated at its position', () => {
    const replaced = replaceRule(PROFILE, rule('c', { name: 'Changed', action: { type: 'reject' } }))
    expect(replaced.ok && replaced.value.rules[2]).toMatchObject({
      name: 'Changed',
      action: { type: 'reject' }
    })
    expect(replaced.ok && replaced.value.rules.length).toBe(5)
    const bad = replaceRule(PROFILE, rule('c', { name: 'Changed', matchers: [{ type: 'port', value: '0' }] }))
    expect(!bad.ok && bad.error.message).toMatch(/^Rule "Changed" \(#3\) is invalid: matcher #1 \(port\): /)
    expect(replaceRule(PROFILE, rule('nope'))).toMatchObject({ ok: false, error: { code: 'not-found' } })
  })

  it('switches only the rules named, and leaves the others as the same objects', () => {
    const off = setRulesEnabled(PROFILE, ['b', 'c'], false)
    expect(off.ok && off.value.rules.map((r) => r.enabled)).toEqual([true, false, false, true, true])
    expect(off.ok && off.value.rules[0]).toBe(PROFILE.rules[0])
    expect(setRulesEnabled(PROFILE, ['x'], true)).toMatchObject({ ok: false, error: { code: 'not-found' } })
  })
})
