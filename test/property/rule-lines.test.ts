/**
 * Pasted rule lines (common/rule-lines.ts) both ways: any rule a line can say is written by `ruleLine`
 * as a line that `parseRuleLines` reads back as that rule, and writing it again gives the same line.
 * Values are drawn with spaces, quotes, backslashes and `#`, which only quoting lets a line hold.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkMatcherValue } from '../../common/matcher-checks.ts'
import type { Action, Matcher, Profile, Rule } from '../../common/model.ts'
import { parseRuleLines, ruleLine } from '../../common/rule-lines.ts'
import { validRule } from './arbitraries.ts'

/** Characters that need quoting or escaping, next to ordinary ones. */
const awkward = fc.string({
  unit: fc.constantFrom(
    'a',
    'Z',
    '0',
    '.',
    '*',
    ' ',
    '\t',
    '"',
    '\\',
    '#',
    '/',
    ':',
    '(',
    ')',
    'é',
    '\u00a0'
  ),
  maxLength: 12
})
const text = fc.oneof(awkward, fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }))

const usable = (matcher: Matcher): boolean => checkMatcherValue(matcher) === null

const matcher: fc.Arbitrary<Matcher> = fc
  .oneof(
    fc.record({ type: fc.constantFrom('host', 'domain'), value: fc.domain() }),
    fc.record({ type: fc.constant('wildcard'), value: fc.domain().map((d) => `*.${d}`) }),
    fc.record({ type: fc.constant('regex'), value: awkward.map((s) => `^${s}`) }),
    fc.record({ type: fc.constant('ip'), value: fc.oneof(fc.ipV4(), fc.ipV6()) }),
    fc.record({ type: fc.constant('port'), value: fc.integer({ min: 1, max: 65535 }).map(String) }),
    fc.record({ type: fc.constant('protocol'), value: fc.constantFrom('http', 'connect') }),
    fc.record({ type: fc.constant('path'), value: text.map((s) => `/${s}`) }),
    fc.record({ type: fc.constant('method'), value: fc.constantFrom('GET', 'GET,HEAD', 'post') }),
    fc.record({
      type: fc.constant('header'),
      value: fc
        .tuple(fc.constantFrom('X-Debug', 'User-Agent'), fc.option(text))
        .map(([name, pattern]) => (pattern === null ? name : `${name}: ${pattern}`))
    })
  )
  .map((m) => m as Matcher)
  .filter(usable)

/**
 * Upstream and group names are free text: spaces, quotes, case-insensitive twins (the second twin is
 * written by id), words of the syntax. A name that is another target's id would leave a target no line
 * can name; `ruleLine` says null for it (the second property), so it is left out here.
 */
const profile: fc.Arbitrary<Profile> = fc
  .tuple(
    fc.array(fc.oneof(text, fc.constantFrom('Squid', 'squid', 'block', 'and', '→')), {
      minLength: 1,
      maxLength: 4
    })
  )
  .map(([names]) => {
    const [first, ...rest] = names.map((name) => name || 'x')
    return {
      id: 'p',
      name: 'P',
      upstreams: [first!, ...rest].map((name, i) => ({
        id: `u-${i}`,
        name,
        scheme: 'http' as const,
        host: '127.0.0.1',
        port: 3128
      })),
      groups: [{ id: 'g-0', name: `${first} pool`, strategy: 'failover' as const, members: ['u-0'] }],
      rules: [],
      defaultAction: { type: 'direct' as const }
    }
  })
  .filter((p) => !p.upstreams.some((u) => /^[ug]-\d$/i.test(u.name)))

function action(target: Profile): fc.Arbitrary<Action> {
  return fc.oneof(
    fc.constant({ type: 'direct' as const }),
    fc.constant({ type: 'reject' as const }),
    fc.integer({ min: 400, max: 589 }).map((status) => ({
      type: 'block' as const,
      status,
      body: 'Blocked by Junction'
    })),
    fc
      .constantFrom(...target.upstreams.map((u) => u.id), 'g-0')
      .map((upstreamId) => ({ type: 'upstream' as const, upstreamId }))
  )
}

/** A rule the line syntax can say: on, unnamed, no edits, a pasted block's body, no line breaks. */
const sayable = profile.chain((target) =>
  fc.record({
    profile: fc.constant(target),
    rule: fc.record({
      id: fc.constant('r-old'),
      enabled: fc.constant(true),
      matchers: fc.array(
        matcher.filter((m) => !/[\r\n]/.test(m.value)),
        { minLength: 1, maxLength: 3 }
      ),
      action: action(target)
    })
  })
)

const readBack = (line: string, target: Profile) => parseRuleLines(line, target, () => 'r-new')

describe('rule lines, written and read back', () => {
  it('writes every rule a line can say, and reads it back as that rule', () => {
    fc.assert(
      fc.property(sayable, ({ profile: target, rule }) => {
        const line = ruleLine(rule as Rule, target)
        expect(line).not.toBeNull()
        const lines = readBack(line!, target)
        expect(lines).toHaveLength(1)
        expect(lines[0]!.error).toBeUndefined()
        expect(lines[0]!.rule).toEqual({ ...rule, id: 'r-new' })
        expect(ruleLine(lines[0]!.rule!, target)).toBe(line)
      }),
      { numRuns: 400 }
    )
  })

  it('says null, never a wrong line, for any other valid rule', () => {
    const target: Profile = {
      id: 'p',
      name: 'P',
      upstreams: [{ id: 'u-corp', name: 'Corp', scheme: 'http', host: '10.0.0.1', port: 3128 }],
      rules: [],
      defaultAction: { type: 'direct' }
    }
    fc.assert(
      fc.property(validRule(['u-corp']), (rule) => {
        const line = ruleLine(rule as Rule, target)
        if (line === null) return
        expect(readBack(line, target)[0]!.rule).toEqual({ ...rule, id: 'r-new' })
      }),
      { numRuns: 300 }
    )
  })
})
