import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_SETTINGS } from '../../../common/model.ts'
import { fail, ok } from '../../../common/result.ts'
import { JsonFile } from '../../../main/config/json-file.ts'
import { ProfileStore } from '../../../main/profiles/profile-store.ts'
import { unsealedWarning } from '../../../main/profiles/secrets.ts'
import { SettingsStore } from '../../../main/config/settings-store.ts'

interface Doc {
  name: string
}

let dir: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-config-'))
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

const open = (extra: Partial<ConstructorParameters<typeof JsonFile<Doc>>[0]> = {}) =>
  new JsonFile<Doc>({
    path: path.join(dir, 'doc.json'),
    version: 2,
    defaults: () => ({ name: 'default' }),
    parse: (data) =>
      typeof data.name === 'string'
        ? ok({ value: { name: data.name } })
        : fail('invalid-input', 'name must be text'),
    now: () => new Date('2026-11-22T10:00:00.000Z'),
    ...extra
  })

describe('JsonFile', () => {
  it('loads defaults when the file is missing, and saves with a version field', async () => {
    const file = open()
    expect(await file.load()).toEqual({ value: { name: 'default' }, problem: null })
    expect((await file.save({ name: 'x' })).ok).toBe(true)
    expect(JSON.parse(await fs.readFile(file.path, 'utf8'))).toEqual({ version: 2, name: 'x' })
    expect(await open().load()).toMatchObject({ value: { name: 'x' }, problem: null })
  })

  it('leaves a corrupt file as it is, loads defaults, says why, and copies it aside before the first save', async () => {
    const file = open()
    await fs.writeFile(file.path, '{"version": 2, "name": ')
    const loaded = await file.load()
    expect(loaded.value).toEqual({ name: 'default' })
    expect(loaded.problem).toMatch(
      /doc\.json is not valid JSON: .*the file was left as it is; before Junction first saves doc\.json, the original is copied to doc\.json\.corrupt-<time>.*defaults were loaded/
    )
    expect(await fs.readdir(dir)).toEqual(['doc.json'])
    expect(await fs.readFile(file.path, 'utf8')).toBe('{"version": 2, "name": ')
    expect((await file.save({ name: 'new' })).ok).toBe(true)
    const kept = `${file.path}.corrupt-2026-11-22T10-00-00-000Z`
    expect(await fs.readFile(kept, 'utf8')).toBe('{"version": 2, "name": ')
    expect(JSON.parse(await fs.readFile(file.path, 'utf8'))).toEqual({ version: 2, name: 'new' })
    // One copy: the second save replaces Junction's own file.
    expect((await file.save({ name: 'newer' })).ok).toBe(true)
    expect((await fs.readdir(dir)).sort()).toEqual(['doc.json', 'doc.json.corrupt-2026-11-22T10-00-00-000Z'])
  })

  it('refuses to save when the broken original cannot be kept, and leaves it as it is', async () => {
    const file = open()
    await fs.writeFile(file.path, 'not json')
    await file.load()
    // Something already holds the copy's name: the original would be lost, so nothing is written.
    await fs.writeFile(`${file.path}.corrupt-2026-11-22T10-00-00-000Z`, 'other')
    const saved = await file.save({ name: 'new' })
    expect(saved).toMatchObject({
      ok: false,
      error: { code: 'io-error', message: expect.stringMatching(/original could not be kept.*not replaced/) }
    })
    expect(await fs.readFile(file.path, 'utf8')).toBe('not json')
  })

  it('reports a file that parses but is invalid, and does not touch it', async () => {
    const file = open()
    await fs.writeFile(file.path, JSON.stringify({ version: 2, name: 7 }))
    const loaded = await file.load()
    expect(loaded.problem).toMatch(/is invalid: name must be text/)
    expect(await fs.readdir(dir)).toEqual(['doc.json'])
  })

  it('refuses to save over a file it could not read', async () => {
    const file = open({ path: dir })
    const loaded = await file.load()
    expect(loaded.problem).toMatch(/cannot be read \(EISDIR.*it will not be overwritten/)
    expect(await file.save({ name: 'x' })).toMatchObject({ ok: false, error: { code: 'read-only' } })
  })

  it('runs migrations from older versions, treating a file without version as version 0', async () => {
    const file = open({
      migrations: {
        0: (d) => ({ name: d.title }),
        1: (d) => ({ name: `${d.name as string}!` })
      }
    })
    await fs.writeFile(file.path, JSON.stringify({ title: 'old' }))
    expect((await file.load()).value).toEqual({ name: 'old!' })
    // A migrated document is rewritten in the current format on the next save.
    await file.save({ name: 'old!' })
    expect(JSON.parse(await fs.readFile(file.path, 'utf8'))).toEqual({ version: 2, name: 'old!' })
  })

  it('refuses to overwrite a file from a newer version', async () => {
    const file = open()
    const newer = JSON.stringify({ version: 3, name: 'future', extra: true })
    await fs.writeFile(file.path, newer)
    const loaded = await file.load()
    expect(loaded.problem).toMatch(/written by a newer Junction \(format version 3, this one reads up to 2\)/)
    const saved = await file.save({ name: 'mine' })
    expect(saved).toMatchObject({ ok: false, error: { code: 'read-only' } })
    expect(await fs.readFile(file.path, 'utf8')).toBe(newer)
  })

  it('writes atomically: no temporary files are left and a failed write keeps the old file', async () => {
    const file = open()
    await file.save({ name: 'first' })
    await file.save({ name: 'second' })
    expect(await fs.readdir(dir)).toEqual(['doc.json'])
    const blocked = new JsonFile<Doc>({
      ...{ path: path.join(dir, 'doc.json', 'nested.json') },
      version: 1,
      defaults: () => ({ name: '' }),
      parse: (d) => ok({ value: d as unknown as Doc })
    })
    expect(await blocked.save({ name: 'x' })).toMatchObject({ ok: false, error: { code: 'io-error' } })
    expect(JSON.parse(await fs.readFile(file.path, 'utf8')).name).toBe('second')
  })

  it('skips a write identical to the last one', async () => {
    const file = open()
    await file.save({ name: 'same' })
    const before = (await fs.stat(file.path)).mtimeMs
    await fs.utimes(file.path, new Date(0), new Date(0))
    await file.save({ name: 'same' })
    expect((await fs.stat(file.path)).mtimeMs).toBe(0)
    expect(before).toBeGreaterThan(0)
  })

  it('skips a save of exactly the text it loaded, and writes the next different one', async () => {
    const text = `${JSON.stringify({ version: 2, name: 'kept' }, null, 2)}\n`
    await fs.writeFile(path.join(dir, 'doc.json'), text)
    const file = open()
    expect((await file.load()).value).toEqual({ name: 'kept' })
    await fs.utimes(file.path, new Date(0), new Date(0))
    expect((await file.save({ name: 'kept' })).ok).toBe(true)
    expect((await fs.stat(file.path)).mtimeMs).toBe(0)
    expect((await file.save({ name: 'changed' })).ok).toBe(true)
    expect(JSON.parse(await fs.readFile(file.path, 'utf8'))).toEqual({ version: 2, name: 'changed' })
    // …and the text it wrote is now the one a repeated save skips.
    await fs.utimes(file.path, new Date(0), new Date(0))
    await file.save({ name: 'changed' })
    expect((await fs.stat(file.path)).mtimeMs).toBe(0)
  })
})

describe('ProfileStore and SettingsStore', () => {
  const profile = {
    id: 'work',
    name: 'Work',
    upstreams: [],
    rules: [
      { id: 'r', enabled: true, matchers: [{ type: 'domain', value: 'a.test' }], action: { type: 'reject' } }
    ],
    defaultAction: { type: 'direct' }
  }

  it('keeps Direct built in, validates changes and persists them', async () => {
    const { store } = await ProfileStore.open(dir)
    expect(store.list().map((p) => p.id)).toEqual(['direct'])
    expect((await store.put(profile)).ok).toBe(true)
    expect(await store.put({ ...profile, id: 'direct' })).toMatchObject({
      ok: false,
      error: { code: 'read-only' }
    })
    expect(await store.put({ ...profile, id: 'other' })).toMatchObject({
      ok: false,
      error: { code: 'conflict' }
    })
    const bad = await store.put({
      ...profile,
      rules: [{ ...profile.rules[0], matchers: [{ type: 'regex', value: '[' }] }]
    })
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid-input' } })
    const reopened = await ProfileStore.open(dir)
    expect(reopened.problem).toBeNull()
    expect(reopened.store.list().map((p) => p.name)).toEqual(['Direct', 'Work'])
    expect((await reopened.store.remove('work')).ok).toBe(true)
    expect(await reopened.store.remove('direct')).toMatchObject({ ok: false, error: { code: 'read-only' } })
  })

  it('leaves out an invalid rule, keeps the rest of its profile and the other profiles, and names it', async () => {
    const other = { ...profile, id: 'home', name: 'Home' }
    const original = JSON.stringify({
      version: 1,
      profiles: [
        {
          ...profile,
          rules: [
            { ...profile.rules[0], id: 'good-1' },
            { ...profile.rules[0], matchers: [{ type: 'ip', value: '300.1.1.1/8' }] },
            { ...profile.rules[0], id: 'good-2' }
          ]
        },
        other
      ]
    })
    await fs.writeFile(path.join(dir, 'profiles.json'), original)
    const { store, problem } = await ProfileStore.open(dir)
    expect(problem).toMatch(
      /profiles\.json has invalid entries, ignored: profile "Work" \(#1\), rule "r" \(#2\) was left out: matcher #1 \(ip\)/
    )
    expect(store.get('work')!.rules.map((r) => r.id)).toEqual(['good-1', 'good-2'])
    expect(store.get('home')).toEqual(other)
    expect(await fs.readFile(path.join(dir, 'profiles.json'), 'utf8')).toBe(original)
    expect(await fs.readdir(dir)).toEqual(['profiles.json'])
  })

  it('leaves out a profile whose upstreams are invalid, and a second profile with the same id', async () => {
    await fs.writeFile(
      path.join(dir, 'profiles.json'),
      JSON.stringify({
        version: 1,
        profiles: [
          {
            ...profile,
            id: 'broken',
            name: 'Broken',
            defaultAction: { type: 'upstream', upstreamId: 'nope' }
          },
          profile,
          { ...profile, name: 'Work again' }
        ]
      })
    )
    const { store, problem } = await ProfileStore.open(dir)
    expect(problem).toMatch(
      /profile "Broken" \(#1\) was left out: default action: no upstream or group with id "nope"/
    )
    expect(problem).toMatch(/profile "Work again" \(#3\) was left out: id "work" is used twice/)
    expect(store.list().map((p) => p.id)).toEqual(['direct', 'work'])
  })

  it('writes back fields a newer Junction added to the document, a profile, an upstream and a rule', async () => {
    const upstream = { id: 'sq', name: 'Squid', scheme: 'http', host: '10.0.0.1', port: 3128, weight: 2 }
    const doc = {
      version: 1,
      sync: { lastPulled: 12 },
      profiles: [
        {
          ...profile,
          color: 'teal',
          upstreams: [upstream],
          rules: [{ ...profile.rules[0], name: 'Named', schedule: 'weekdays' }]
        }
      ]
    }
    await fs.writeFile(path.join(dir, 'profiles.json'), JSON.stringify(doc))
    const { store, problem } = await ProfileStore.open(dir)
    expect(problem).toBeNull()
    const loaded = store.get('work')!
    expect(loaded).not.toHaveProperty('color')
    // A known field the user clears stays cleared: only unknown fields are carried over.
    const { name: _name, ...unnamed } = loaded.rules[0]!
    expect((await store.put({ ...loaded, name: 'Work 2', rules: [unnamed] })).ok).toBe(true)
    const onDisk = JSON.parse(await fs.readFile(path.join(dir, 'profiles.json'), 'utf8'))
    expect(onDisk.sync).toEqual({ lastPulled: 12 })
    expect(onDisk.profiles[0]).toMatchObject({ name: 'Work 2', color: 'teal' })
    expect(onDisk.profiles[0].upstreams[0]).toEqual(upstream)
    expect(onDisk.profiles[0].rules[0]).toMatchObject({ id: 'r', schedule: 'weekdays' })
    expect(onDisk.profiles[0].rules[0]).not.toHaveProperty('name')
  })

  it('writes one rule per line; a per-rule save changes that line and keeps the others, unknown fields too', async () => {
    const rules = ['a', 'b', 'c'].map((id) => ({ ...profile.rules[0]!, id }))
    await fs.writeFile(
      path.join(dir, 'profiles.json'),
      JSON.stringify({
        version: 1,
        profiles: [{ ...profile, rules: [rules[0], { ...rules[1], note: 'kept' }, rules[2]] }]
      })
    )
    const { store } = await ProfileStore.open(dir)
    const read = async () => (await fs.readFile(path.join(dir, 'profiles.json'), 'utf8')).split('\n')
    const [a, b, c] = store.get('work')!.rules
    expect((await store.putRules('work', [a!, b!, { ...c!, enabled: false }])).ok).toBe(true)
    const first = await read()
    const ruleLines = first.filter((line) => line.trimStart().startsWith('{"'))
    expect(ruleLines).toHaveLength(3)
    expect(JSON.parse(ruleLines[1]!.replace(/,$/, ''))).toEqual({ ...rules[1], note: 'kept' })
    expect(JSON.parse(ruleLines[2]!)).toEqual({ ...rules[2], enabled: false })
    // The edited rule's line changes; every other line of the file stays as it was.
    expect(
      (await store.putRules('work', [a!, { ...b!, enabled: false }, store.get('work')!.rules[2]!])).ok
    ).toBe(true)
    const second = await read()
    expect(second.filter((line, i) => line !== first[i])).toEqual([
      first[first.indexOf(ruleLines[1]!)]!.replace('"enabled":true', '"enabled":false')
    ])
    const reopened = await ProfileStore.open(dir)
    expect(reopened.problem).toBeNull()
    expect(reopened.store.get('work')!.rules.map((r) => r.enabled)).toEqual([true, false, false])
  })

  it('a left-out duplicate does not lend its unknown fields to the profile that was kept', async () => {
    await fs.writeFile(
      path.join(dir, 'profiles.json'),
      JSON.stringify({ version: 1, profiles: [profile, { ...profile, name: 'Work again', color: 'red' }] })
    )
    const { store } = await ProfileStore.open(dir)
    expect((await store.put({ ...store.get('work')!, name: 'Work 2' })).ok).toBe(true)
    const onDisk = JSON.parse(await fs.readFile(path.join(dir, 'profiles.json'), 'utf8'))
    expect(onDisk.profiles).toEqual([{ ...profile, name: 'Work 2' }])
  })

  it('settings: defaults, validated updates, persisted', async () => {
    const { store } = await SettingsStore.open(dir)
    expect(store.get()).toEqual(DEFAULT_SETTINGS)
    expect(await store.update({ port: 70000 })).toMatchObject({ ok: false, error: { code: 'invalid-input' } })
    expect((await store.update({ port: 9000 })).ok).toBe(true)
    expect((await SettingsStore.open(dir)).store.get().port).toBe(9000)
  })
})

describe('sealed upstream passwords', () => {
  // A stand-in keychain: reversible, and visibly not the password.
  const keychain = {
    seal: (plain: string) => Buffer.from(`k:${plain}`).toString('base64'),
    open: (sealed: string) => {
      const text = Buffer.from(sealed, 'base64').toString()
      if (!text.startsWith('k:')) throw new Error('wrong key')
      return text.slice(2)
    }
  }
  const withSecret = {
    id: 'corp',
    name: 'Corp',
    upstreams: [
      {
        id: 'sq',
        name: 'Squid',
        scheme: 'http',
        host: '10.0.0.1',
        port: 3128,
        username: 'me',
        password: 'hunter2'
      }
    ],
    rules: [],
    defaultAction: { type: 'upstream', upstreamId: 'sq' }
  }

  it('without a keychain: names the upstreams whose passwords are stored as written, never the password', async () => {
    const { store } = await ProfileStore.open(dir, null)
    expect(store.unsealedPasswords()).toEqual([])
    expect(unsealedWarning([])).toMatch(
      /^warning: no OS keychain is available here: upstream passwords in profiles\.json and/
    )
    await store.put(withSecret)
    expect(store.unsealedPasswords()).toEqual(['Corp/Squid'])
    const warning = unsealedWarning(store.unsealedPasswords())
    expect(warning).toMatch(/profiles\.json \(1 stored: "Corp\/Squid"\) and .* stored unencrypted/)
    expect(warning).not.toContain('hunter2')
    expect((await ProfileStore.open(dir, keychain)).store.unsealedPasswords()).toEqual([])
    expect(unsealedWarning(['a', 'b', 'c', 'd', 'e', 'f', 'g'])).toMatch(/\(7 stored: "a", .*"e", 2 more\)/)
  })

  it('seals passwords on disk and opens them again with the keychain', async () => {
    const { store } = await ProfileStore.open(dir, keychain)
    expect((await store.put(withSecret)).ok).toBe(true)
    const onDisk = await fs.readFile(path.join(dir, 'profiles.json'), 'utf8')
    expect(onDisk).not.toContain('hunter2')
    expect(onDisk).toContain('"password": "sealed:')
    const reopened = await ProfileStore.open(dir, keychain)
    expect(reopened.problem).toBeNull()
    expect(reopened.store.get('corp')!.upstreams[0]!.password).toBe('hunter2')
  })

  it('without the keychain: reports it, uses no password, and keeps the sealed one on disk', async () => {
    await (await ProfileStore.open(dir, keychain)).store.put(withSecret)
    const sealed = JSON.parse(await fs.readFile(path.join(dir, 'profiles.json'), 'utf8')).profiles[0]
      .upstreams[0].password
    const { store, problem } = await ProfileStore.open(dir, null)
    expect(problem).toMatch(
      /password of upstream "sq" in profile "Corp" is sealed by the desktop app's keychain/
    )
    expect(store.get('corp')!.upstreams[0]!.password).toBeUndefined()
    await store.put({ ...store.get('corp')!, name: 'Corp 2' })
    const after = JSON.parse(await fs.readFile(path.join(dir, 'profiles.json'), 'utf8')).profiles[0]
    expect(after.name).toBe('Corp 2')
    expect(after.upstreams[0].password).toBe(sealed)
  })
})

describe('LAN access', () => {
  it('needs proxy credentials whenever the proxy listens beyond loopback', async () => {
    const { store } = await SettingsStore.open(dir)
    const open = await store.update({ listenHost: '0.0.0.0' })
    expect(open).toMatchObject({
      ok: false,
      error: {
        code: 'invalid-input',
        message: expect.stringMatching(/LAN access\) needs a proxy username and password/)
      }
    })
    expect(
      (await store.update({ listenHost: '0.0.0.0', proxyAuth: { username: 'me', password: 'long enough' } }))
        .ok
    ).toBe(true)
    expect((await SettingsStore.open(dir)).store.get().listenHost).toBe('0.0.0.0')
    // Removing the credentials while still on the LAN is refused too.
    expect((await store.update({ proxyAuth: null })).ok).toBe(false)
  })
})
