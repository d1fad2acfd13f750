/**
 * Properties of rule validation (main/rules/validate.ts): any rule, random or a valid one with one
 * field broken, is accepted or refused with a message naming the rule and the field; it never throws.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseProfile } from '../../main/rules/validate.ts'
import { anyJson, setAt, validRule } from './arbitraries.ts'

const profileWith = (rule: unknown) => ({
  id: 'work',
  name: 'Work',
  upstreams: [{ id: 'u-corp', name: 'Corp', scheme: 'http', host: '10.0.0.1', port: 3128 }],
  rules: [rule],
  defaultAction: { type: 'direct' }
})

/** Each breakable field of a rule, with how a refusal must name it. */
const FIELDS = [
  { at: ['id'], named: /\bid\b/ },
  { at: ['name'], named: /\bname\b/ },
  { at: ['enabled'], named: /\benabled\b/ },
  { at: ['matchers'], named: /matcher/ },
  { at: ['matchers', 0], named: /matcher #1/ },
  { at: ['matchers', 0, 'type'], named: /matcher #1/ },
  { at: ['matchers', 0, 'value'], named: /matcher #1/ },
  { at: ['action'], named: /action/ },
  { at: ['action', 'type'], named: /action/ },
  { at: ['action', 'status'], named: /action/ },
  { at: ['rewrite'], named: /header edits|body edits/ },
  { at: ['rewrite', 'request'], named: /request header edit/ },
  { at: ['rewrite', 'responseBody'], named: /response body edit/ },
  { at: ['respondWith'], named: /mock response/ },
  { at: ['respondWith', 'status'], named: /mock response/ },
  { at: ['intercept'], named: /intercept/ }
] as const

/** Strings that reach the semantic checks: patterns, CIDRs, port lists, header names. */
const tricky = fc.oneof(
  anyJson,
  fc.constantFrom('(', '[a-', '*', '300.1.1.1/8', '10.0.0.0/33', '0-70000', '80,', 'Host', 'a b', '\r\n'),
  fc.string({ maxLength: 12 })
)

function expectAnswered(rule: unknown, named?: RegExp): void {
  const result = parseProfile(profileWith(rule))
  if (result.ok) return
  expect(result.error.code).toBe('invalid-input')
  // The rule is named by name, id or position, then the field.
  expect(result.error.message).toMatch(/^Profile "Work" is invalid: rule (".*" )?\(?#1\)?/s)
  if (named) expect(result.error.message).toMatch(named)
  for (const detail of result.error.details ?? []) expect(detail.length).toBeGreaterThan(0)
}

describe('rule validation', () => {
  it('a random rule is accepted or refused naming the rule, and never throws', () => {
    fc.assert(
      fc.property(anyJson, (rule) => expectAnswered(rule)),
      { numRuns: 400 }
    )
  })

  it('a valid rule with one field broken is refused naming that field, or accepted', () => {
    fc.assert(
      fc.property(validRule(['u-corp']), fc.constantFrom(...FIELDS), tricky, (rule, field, value) => {
        expectAnswered(setAt(rule, field.at, value), field.named)
      }),
      { numRuns: 600 }
    )
  })

  it('every valid rule is accepted as it is', () => {
    fc.assert(
      fc.property(validRule(['u-corp']), (rule) => {
        const result = parseProfile(profileWith(rule))
        expect(result.ok ? result.value.rules[0] : result.error).toEqual(rule)
      }),
      { numRuns: 200 }
    )
  })
})
