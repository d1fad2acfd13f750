/**
 * Properties of loading settings.json and profiles.json, over random and mutated files: loading never
 * throws and never changes the disk, what loads is always valid, valid fields survive an invalid
 * neighbour, and what was left out is reported by name.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SettingsSchema, type Profile, type Settings } from '../../common/model.ts'
import { SETTINGS_FILE, SettingsStore } from '../../main/config/settings-store.ts'
import { PROFILES_FILE, ProfileStore } from '../../main/profiles/profile-store.ts'
import { parseProfile } from '../../main/rules/validate.ts'
import { anyJson, SETTINGS_LEAVES, setAt, snapshot, validProfile, validSettings } from './arbitraries.ts'

let root: string
let runs = 0
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-property-config-'))
})
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

/** A fresh data directory holding `name` with `text`. */
async function dirWith(name: string, text: string): Promise<string> {
  const dir = path.join(root, String(runs++))
  await fs.mkdir(dir)
  await fs.writeFile(path.join(dir, name), text)
  return dir
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
const get = (doc: unknown, at: readonly string[]): unknown =>
  at.reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], doc)

function expectUsable(settings: Settings): void {
  expect(SettingsSchema.safeParse(settings).success).toBe(true)
  // Secure by default: whatever the file says, no open proxy on the network.
  expect(LOOPBACK.has(settings.listenHost) || settings.proxyAuth !== null).toBe(true)
}

/** What any text in settings.json may be: anything, JSON, a JSON object, or a valid file with noise. */
const settingsText = fc.oneof(
  fc.string({ maxLength: 40 }),
  anyJson.map((v) => JSON.stringify(v)),
  fc.dictionary(fc.string({ maxLength: 12 }), anyJson, { maxKeys: 6 }).map((d) => JSON.stringify(d)),
  validSettings.map((s) => JSON.stringify({ version: 1, ...s }))
)

describe('loading settings.json', () => {
  it('never throws, never changes the directory, always yields usable settings', async () => {
    await fc.assert(
      fc.asyncProperty(settingsText, async (text) => {
        const dir = await dirWith(SETTINGS_FILE, text)
        const before = await snapshot(dir)
        const { store, problem } = await SettingsStore.open(dir)
        expectUsable(store.get())
        expect(await snapshot(dir)).toEqual(before)
        let isObject = false
        try {
          const parsed: unknown = JSON.parse(text)
          isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        } catch {
          /* not JSON */
        }
        if (!isObject)
          expect(problem).toMatch(/settings\.json (is not valid JSON|does not contain a JSON object)/)
      }),
      { numRuns: 150 }
    )
  })

  it('one mutated field: every other field survives, and an invalid value is reported by its path', async () => {
    await fc.assert(
      fc.asyncProperty(
        validSettings,
        fc.constantFrom(...SETTINGS_LEAVES),
        anyJson,
        async (settings, leaf, value) => {
          const doc = setAt({ version: 1, ...settings }, leaf, value) as Record<string, unknown>
          const text = JSON.stringify(doc)
          const dir = await dirWith(SETTINGS_FILE, text)
          const { store, problem } = await SettingsStore.open(dir)
          const loaded = store.get()
          expectUsable(loaded)
          for (const other of SETTINGS_LEAVES)
            if (other.join('.') !== leaf.join('.')) expect(get(loaded, other)).toEqual(get(settings, other))
          const { version: _version, ...fields } = doc
          const strict = SettingsSchema.safeParse(fields)
          const valid =
            strict.success && (LOOPBACK.has(strict.data.listenHost) || strict.data.proxyAuth !== null)
          if (valid) {
            expect(problem).toBeNull()
            expect(get(loaded, leaf)).toEqual(value)
          } else {
            expect(problem).toContain(leaf.join('.'))
            // Once: the field is named in one entry only.
            expect(
              problem!.split('; ').filter((p) => p.includes(`${leaf.join('.')}:`)).length
            ).toBeLessThanOrEqual(1)
          }
          expect(await fs.readFile(path.join(dir, SETTINGS_FILE), 'utf8')).toBe(text)
        }
      ),
      { numRuns: 200 }
    )
  })
})

/** Keys no schema of this build defines, as a newer Junction might add them. */
const newKey = fc.stringMatching(/^future[A-Z][a-z]{0,6}$/)

describe('saving settings.json', () => {
  it('writes back every field this build does not know, at the top and inside groups', async () => {
    await fc.assert(
      fc.asyncProperty(
        validSettings,
        fc.dictionary(newKey, anyJson, { maxKeys: 3 }),
        fc.dictionary(newKey, anyJson, { maxKeys: 2 }),
        fc.integer({ min: 1, max: 65535 }),
        async (settings, top, inTimeouts, port) => {
          const doc = { version: 1, ...top, ...settings, timeouts: { ...inTimeouts, ...settings.timeouts } }
          const dir = await dirWith(SETTINGS_FILE, JSON.stringify(doc))
          const { store } = await SettingsStore.open(dir)
          expect((await store.update({ port })).ok).toBe(true)
          const onDisk = JSON.parse(await fs.readFile(path.join(dir, SETTINGS_FILE), 'utf8'))
          expect(onDisk).toEqual({ ...doc, port })
        }
      ),
      { numRuns: 60 }
    )
  })
})

/** Paths inside a profile worth breaking: the profile's own fields, a rule's, an upstream's. */
const PROFILE_PATHS = [
  ['id'],
  ['name'],
  ['defaultAction'],
  ['upstreams'],
  ['rules'],
  ['upstreams', 0, 'port'],
  ['upstreams', 0, 'scheme'],
  ['rules', 0, 'id'],
  ['rules', 0, 'matchers'],
  ['rules', 0, 'matchers', 0, 'value'],
  ['rules', 0, 'action'],
  ['rules', 0, 'enabled'],
  ['rules', 1, 'action', 'status']
] as const

const mutation = fc.record({ at: fc.constantFrom(...PROFILE_PATHS), value: anyJson })

describe('loading profiles.json', () => {
  it('never throws, never changes the directory, and every profile it keeps is valid', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      anyJson.map((v) => JSON.stringify(v)),
      fc.array(anyJson, { maxLength: 4 }).map((profiles) => JSON.stringify({ version: 1, profiles }))
    )
    await fc.assert(
      fc.asyncProperty(text, async (body) => {
        const dir = await dirWith(PROFILES_FILE, body)
        const before = await snapshot(dir)
        const { store } = await ProfileStore.open(dir)
        for (const profile of store.list()) expect(parseProfile(profile).ok).toBe(true)
        expect(await snapshot(dir)).toEqual(before)
      }),
      { numRuns: 150 }
    )
  })

  it('a broken profile or rule takes nothing else with it, and is reported by name', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(validProfile, { selector: (p) => p.id, minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), mutation), { maxLength: 2 }),
        async (profiles, mutations) => {
          const broken = new Map<number, unknown>()
          for (const [n, { at, value }] of mutations) {
            const index = n % profiles.length
            broken.set(index, setAt(broken.get(index) ?? profiles[index], at, value))
          }
          const raw = profiles.map((p, i) => (broken.has(i) ? broken.get(i) : p))
          const text = JSON.stringify({ version: 1, profiles: raw })
          const dir = await dirWith(PROFILES_FILE, text)
          const { store, problem } = await ProfileStore.open(dir)
          const ids = raw.map((p) => (p as { id?: unknown } | null)?.id)

          for (const [i, profile] of profiles.entries()) {
            const loaded = store.get(profile.id)
            const claimedEarlier = ids.slice(0, i).includes(profile.id)
            if (!broken.has(i) && !claimedEarlier) expect(loaded).toEqual(profile)
            if (!broken.has(i)) continue
            // A broken one is kept as it now reads, or shorn of its bad rules, or left out; anything
            // it lost is reported, naming it.
            const after = broken.get(i) as Profile
            const whole = parseProfile(after)
            // The mutation may have changed the id itself: look the profile up by what the file says.
            const keptWhole =
              whole.ok &&
              !ids.slice(0, i).includes(whole.value.id) &&
              JSON.stringify(store.get(whole.value.id)) === JSON.stringify(whole.value)
            if (!keptWhole) {
              expect(problem).not.toBeNull()
              const name = typeof after?.name === 'string' ? `profile "${after.name}"` : `profile #${i + 1}`
              expect(problem).toContain(typeof after?.name === 'string' || !after ? name : 'profile')
            }
            // Rules that were not touched survive when the profile itself did.
            const touchedRules = new Set(
              mutations
                .filter(([n]) => n % profiles.length === i)
                .map(([, m]) => (m.at[0] === 'rules' && m.at.length > 1 ? m.at[1] : 'all'))
            )
            if (loaded && !touchedRules.has('all') && loaded.id === profile.id)
              for (const [r, rule] of profile.rules.entries())
                if (!touchedRules.has(r as 0 | 1)) expect(loaded.rules).toContainEqual(rule)
          }
          for (const profile of store.list()) expect(parseProfile(profile).ok).toBe(true)
          expect(await fs.readFile(path.join(dir, PROFILES_FILE), 'utf8')).toBe(text)
          expect(await fs.readdir(dir)).toEqual([PROFILES_FILE])
        }
      ),
      { numRuns: 150 }
    )
  })
})
