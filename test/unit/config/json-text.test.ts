/**
 * Config file text (main/config/json-text.ts): what JSON.stringify(value, null, 2) writes, except that
 * `LineList`s come one item per line; parsed back, it is the value with the lists' items in place.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { configText, LineList } from '../../../main/config/json-text.ts'

/** `value` with every LineList replaced by its parsed items: what the text must parse back to. */
function expected(value: unknown): unknown {
  if (value instanceof LineList) return value.lines.map((line) => JSON.parse(line) as unknown)
  // JSON has no negative zero: -0 is written as 0.
  if (Object.is(value, -0)) return 0
  if (Array.isArray(value)) return value.map(expected)
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expected(v)]))
  return value
}

const hasList = (value: unknown): boolean =>
  value instanceof LineList ||
  (typeof value === 'object' && value !== null && Object.values(value).some(hasList))

const lineList = fc
  .array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 })
  .map((items) => new LineList(items.map((item) => JSON.stringify(item))))

const doc = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 1 }),
    lineList,
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('node'), { maxKeys: 3 })
  )
})).node

describe('configText', () => {
  it('writes a list of lines one item per line, indented as the document', () => {
    const text = configText({
      version: 1,
      profiles: [
        { id: 'p', rules: new LineList(['{"id":"a"}', '{"id":"b","x":[1,2]}']), empty: new LineList([]) }
      ]
    })
    expect(text).toBe(
      [
        '{',
        '  "version": 1,',
        '  "profiles": [',
        '    {',
        '      "id": "p",',
        '      "rules": [',
        '        {"id":"a"},',
        '        {"id":"b","x":[1,2]}',
        '      ],',
        '      "empty": []',
        '    }',
        '  ]',
        '}'
      ].join('\n')
    )
  })

  it('is JSON.stringify(value, null, 2) without lists, and parses back to the value with them', () => {
    fc.assert(
      fc.property(doc, (value) => {
        const text = configText(value)
        expect(JSON.parse(text)).toEqual(expected(value))
        if (!hasList(value)) expect(text).toBe(JSON.stringify(value, null, 2))
      }),
      { numRuns: 300 }
    )
  })

  it('leaves strings that look like its own marks alone', () => {
    const value = { a: 'line-list-0123456789abcdef-0', b: new LineList(['1']) }
    expect(JSON.parse(configText(value))).toEqual({ a: 'line-list-0123456789abcdef-0', b: [1] })
  })
})
