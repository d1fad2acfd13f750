/**
 * Properties of reading other tools' files, over the fixtures with random values put anywhere in them
 * and over random text: reading never throws, everything it gives back is a profile a save accepts,
 * the summary stays within its shape, and a Junction backup of any valid profile reads back the same.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { DEFAULT_SETTINGS, type Profile } from '../../common/model.ts'
import { parseProfile } from '../../main/rules/validate.ts'
import { buildBackup } from '../../main/transfer/backup.ts'
import { readImport } from '../../main/transfer/import-file.ts'
import { anyJson, setAt, validProfile } from './arbitraries.ts'

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/import')

/** Every path to a value in `doc`, the document itself included. */
function paths(doc: unknown, at: (string | number)[] = []): (string | number)[][] {
  const here = [at]
  if (Array.isArray(doc)) return [...here, ...doc.flatMap((v, i) => paths(v, [...at, i]))]
  if (typeof doc === 'object' && doc !== null)
    return [...here, ...Object.entries(doc).flatMap(([k, v]) => paths(v, [...at, k]))]
  return here
}

function checkRead(text: string): void {
  const result = readImport(text)
  if (!result.ok) {
    expect(result.error.code).toBe('invalid-input')
    return
  }
  for (const profile of result.value.profiles) expect(parseProfile(profile).ok).toBe(true)
  for (const kind of result.value.summary.skipped) {
    expect(kind.count).toBeGreaterThan(0)
    expect(kind.examples.length).toBeLessThanOrEqual(3)
    expect(kind.examples.length).toBeLessThanOrEqual(kind.count)
  }
  expect(result.value.summary.profiles.map((p) => p.id)).toEqual(result.value.profiles.map((p) => p.id))
}

describe.each([
  ['switchyomega.bak', (text: string): unknown => JSON.parse(text), (doc: unknown) => JSON.stringify(doc)],
  ['foxyproxy.json', (text: string): unknown => JSON.parse(text), (doc: unknown) => JSON.stringify(doc)],
  ['clash.yaml', (text: string): unknown => parse(text), (doc: unknown) => stringify(doc)]
] as const)('reading %s with a random value anywhere', (file, read, write) => {
  const original = read(readFileSync(path.join(FIXTURES, file), 'utf8')) as unknown
  const all = paths(original)

  it('never throws and gives only valid profiles', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...all), anyJson), { minLength: 1, maxLength: 3 }),
        (edits) => {
          const mutated = edits.reduce<unknown>((doc, [at, value]) => setAt(doc, at, value), original)
          checkRead(write(mutated))
        }
      ),
      { numRuns: 300 }
    )
  })

  // Objects parsed from a file can carry their own `toString`/`valueOf`, which makes `String(value)`
  // throw. Random runs found one such place; this puts such a value at every path, every run.
  it.each<[object]>([[{ toString: 0 }], [{ valueOf: 0, toString: 0 }]])(
    'reads with %j at every path',
    (hostile) => {
      for (const at of all) checkRead(write(setAt(original, at, hostile)))
    }
  )
})

describe('reading random text', () => {
  it('never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          anyJson.map((v) => JSON.stringify(v))
        ),
        checkRead
      ),
      { numRuns: 500 }
    )
  })
})

describe('Junction backup', () => {
  it('reads any valid profile back with the same upstreams, groups, rules and default', () => {
    fc.assert(
      fc.property(validProfile, fc.boolean(), (generated, includePasswords) => {
        const profile = generated as Profile
        const result = readImport(buildBackup([profile], DEFAULT_SETTINGS, includePasswords))
        expect(result.ok).toBe(true)
        if (!result.ok) return
        const [copy] = result.value.profiles
        const strip = includePasswords
          ? profile.upstreams
          : profile.upstreams.map(({ password: _password, ...u }) => u)
        expect(copy).toEqual({ ...profile, id: copy!.id, upstreams: strip })
      }),
      { numRuns: 200 }
    )
  })
})
