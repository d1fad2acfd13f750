import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileGlob } from '../../../main/rules/glob.ts'

/** The meaning compileGlob must keep: the pattern as an anchored RegExp (fine for short texts). */
function reference(pattern: string, question: boolean, ignoreCase: boolean): RegExp {
  const body = [...pattern]
    .map((ch) =>
      ch === '*' ? '.*' : question && ch === '?' ? '.' : ch.replace(/[\\^$.|?+()[\]{}]/g, '\\$&')
    )
    .join('')
  return new RegExp(`^${body}$`, ignoreCase ? 'is' : 's')
}

// A small alphabet makes partial matches, repeats and near misses common.
const text = fc.string({ unit: fc.constantFrom('a', 'b', 'A', '.', '-'), maxLength: 14 })
const pattern = fc.string({ unit: fc.constantFrom('a', 'b', 'B', '.', '*', '?'), maxLength: 8 })

describe('compileGlob', () => {
  it('agrees with the anchored RegExp it replaces, with and without `?` and case', () => {
    fc.assert(
      fc.property(pattern, text, fc.boolean(), fc.boolean(), (p, t, question, ignoreCase) => {
        expect(compileGlob(p, { question, ignoreCase })(t)).toBe(reference(p, question, ignoreCase).test(t))
      }),
      { numRuns: 3000 }
    )
  })

  it('matches the usual shapes', () => {
    const host = compileGlob('*.cdn.*.com', { question: true, ignoreCase: false })
    expect(host('img.cdn.example.com')).toBe(true)
    expect(host('cdn.example.com')).toBe(false)
    expect(compileGlob('/api/*/items', { question: false, ignoreCase: false })('/api/v1/items')).toBe(true)
    expect(compileGlob('/a?b', { question: false, ignoreCase: false })('/axb')).toBe(false)
    expect(compileGlob('*JSON*', { question: false, ignoreCase: true })('application/json')).toBe(true)
  })

  it('answers a many-star pattern on a 253-character near miss', () => {
    // As an anchored RegExp, `^.*a.*a.*…b$` tries every placement of the stars before failing;
    // test/reliability/regex-bomb.test.ts measures the event loop while the engine matches it.
    const matches = compileGlob(`${'*a'.repeat(12)}*b`, { question: true, ignoreCase: false })
    expect(matches('a'.repeat(253))).toBe(false)
    expect(matches(`${'a'.repeat(200)}b`)).toBe(true)
    expect(matches(`${'a'.repeat(11)}b`)).toBe(false)
  })
})
