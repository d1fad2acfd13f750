/**
 * A compilation made after per-rule edits reuses the previous one's compiled rules (compile.ts); it
 * must route exactly as compiling the edited profile from nothing. Random profiles, random sequences
 * of the edits the Rules view makes (rule-edits.ts), random requests: the deciding rule, its position
 * and the decision must be the same after every edit.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Action, Matcher, Profile, Rule, RouteTarget } from '../../common/model.ts'
import { CompiledRules } from '../../main/rules/compile.ts'
import {
  insertRules,
  placeRules,
  removeRules,
  replaceRule,
  setRulesEnabled
} from '../../main/rules/rule-edits.ts'

const HOSTS = ['a.test', 'b.a.test', 'x.b.a.test', 'c.test', 'cdn.c.test', '10.0.0.1', '10.1.2.3', '[::1]']

/** Values drawn from the hosts above, so that rules match, overlap and shadow one another. */
const matcher: fc.Arbitrary<Matcher> = fc.oneof(
  fc.record({ type: fc.constant('host'), value: fc.constantFrom(...HOSTS.slice(0, 5)) }),
  fc.record({ type: fc.constant('domain'), value: fc.constantFrom('a.test', 'b.a.test', 'c.test') }),
  fc.record({ type: fc.constant('wildcard'), value: fc.constantFrom('*.a.test', 'cdn.*', '*.test') }),
  // Two rules naming the same group cannot share one joined pattern: the rules are then tried alone.
  // Weighted up: a rule is filed as a regex rule only when it has no matcher indexed before regexes.
  {
    arbitrary: fc.record({
      type: fc.constant('regex'),
      value: fc.constantFrom('^b\\.', '^(x|cdn)\\.', '^(?P<n>c)')
    }),
    weight: 4
  },
  fc.record({ type: fc.constant('ip'), value: fc.constantFrom('10.0.0.0/8', '10.1.0.0/16', '::1') }),
  fc.record({ type: fc.constant('port'), value: fc.constantFrom('80', '443', '80,443', '8000-9000') }),
  fc.record({ type: fc.constant('protocol'), value: fc.constantFrom('http', 'connect') }),
  fc.record({ type: fc.constant('path'), value: fc.constantFrom('/api', '*login*') }),
  fc.record({ type: fc.constant('method'), value: fc.constantFrom('GET', 'POST,PUT') }),
  fc.record({ type: fc.constant('header'), value: fc.constantFrom('X-A', 'Accept: *json*') })
) as fc.Arbitrary<Matcher>

const action: fc.Arbitrary<Action> = fc.constantFrom<Action>(
  { type: 'direct' },
  { type: 'reject' },
  { type: 'block', status: 403, body: 'no' },
  { type: 'upstream', upstreamId: 'u1' }
)

/** A rule without its id: ids are given when it is added, so they stay unique. */
const ruleBody = fc.record({
  enabled: fc.boolean(),
  matchers: fc.array(matcher, { minLength: 1, maxLength: 2 }),
  action
})

/** Positions and picks are taken modulo the list's length when the edit is made. */
const edit = fc.oneof(
  fc.record({
    kind: fc.constant('insert' as const),
    rules: fc.array(fc.tuple(ruleBody, fc.nat()), { minLength: 1, maxLength: 3 })
  }),
  fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), rule: ruleBody }),
  fc.record({
    kind: fc.constant('remove' as const),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 3 })
  }),
  fc.record({
    kind: fc.constant('move' as const),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
    to: fc.nat()
  }),
  fc.record({
    kind: fc.constant('enable' as const),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
    enabled: fc.boolean()
  })
)

const target: fc.Arbitrary<RouteTarget> = fc.record(
  {
    hostname: fc.constantFrom(...HOSTS, 'other.example'),
    port: fc.constantFrom(80, 443, 8080),
    isHttp: fc.boolean(),
    request: fc.record({
      method: fc.constantFrom('GET', 'POST'),
      path: fc.constantFrom('/', '/api/x', '/app/login'),
      headers: fc.constantFrom({}, { 'x-a': '1' }, { accept: 'application/json' })
    })
  },
  { requiredKeys: ['hostname', 'port', 'isHttp'] }
)

type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never

let nextId = 0
const withId = (body: Omit<Rule, 'id'>): Rule => ({ id: `r${nextId++}`, ...body })

/** The edited rule list, or the list unchanged when the edit is refused (e.g. nothing to pick). */
function apply(profile: Profile, change: Edit): Rule[] {
  const { rules } = profile
  const picked = (picks: number[]) => [...new Set(picks.map((p) => rules[p % rules.length]!.id))]
  if (change.kind === 'insert') {
    const entries = change.rules
      .map(([body, at], i) => ({ rule: withId(body), index: at % (rules.length + i + 1) }))
      .sort((a, b) => a.index - b.index)
      .map((entry, i) => ({ ...entry, index: Math.min(entry.index, rules.length + i) }))
    const done = insertRules(profile, entries)
    return done.ok ? done.value.rules : rules
  }
  if (rules.length === 0) return rules
  const done =
    change.kind === 'replace'
      ? replaceRule(profile, { ...change.rule, id: rules[change.pick % rules.length]!.id })
      : change.kind === 'remove'
        ? removeRules(profile, picked(change.picks))
        : change.kind === 'enable'
          ? setRulesEnabled(profile, picked(change.picks), change.enabled)
          : placeRules(
              profile,
              picked(change.picks).map((ruleId, i, ids) => ({
                ruleId,
                index: (change.to % (rules.length - ids.length + 1)) + i
              }))
            )
  return done.ok ? done.value.rules : rules
}

describe('compiling after per-rule edits', () => {
  it('routes every request exactly as a compilation from nothing', () => {
    fc.assert(
      fc.property(
        fc.array(ruleBody, { maxLength: 12 }),
        fc.array(edit, { minLength: 1, maxLength: 10 }),
        fc.array(target, { minLength: 20, maxLength: 20 }),
        (bodies, edits, targets) => {
          let profile: Profile = {
            id: 'p',
            name: 'P',
            upstreams: [{ id: 'u1', name: 'U1', scheme: 'http', host: '127.0.0.1', port: 3128 }],
            rules: bodies.map(withId),
            defaultAction: { type: 'direct' }
          }
          let compiled = new CompiledRules(profile.rules, profile.defaultAction)
          for (const change of edits) {
            profile = { ...profile, rules: apply(profile, change) }
            compiled = new CompiledRules(profile.rules, profile.defaultAction, compiled)
            const fresh = new CompiledRules(profile.rules, profile.defaultAction)
            expect(compiled.usesRequest).toBe(fresh.usesRequest)
            for (const t of targets) {
              const got = compiled.match(t)
              const want = fresh.match(t)
              expect({ index: got.index, decision: got.decision, rule: got.rule?.rule }).toEqual({
                index: want.index,
                decision: want.decision,
                rule: want.rule?.rule
              })
              if (got.rule) expect(got.rule.rule).toBe(profile.rules[got.index])
            }
          }
        }
      ),
      { numRuns: 300 }
    )
  })
})
