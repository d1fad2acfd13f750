import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_SETTINGS } from '../../../common/model.ts'
import { fail, ok } from '../../../common/result.ts'
import { JsonFile } from '../../../main/config/json-file.ts'
import { ProfileStore } from '../../../main/profiles/profile-store.ts'
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
      typeof (data as Doc).name === 'string'
        ? ok({ name: (data as Doc).name })
        : fail('invalid-input', 'name must be text'),
    now: () => new Date('2026-11-22T10:00:00.000Z'),
    ...extra
  })

describe('JsonFile', () => {
  it('loads defaults when the file is missing, and saves with a version field', async () => {
    const file = open()
    expect(await file.load()).toEqual({ value: { name: 'default' }, problem: null, movedTo: null })
    expect((await file.save({ name: 'x' })).ok).toBe(true)
    expect(JSON.parse(await fs.readFile(file.path, 'utf8'))).toEqual({ version: 2, name: 'x' })
    expect(await open().load()).toMatchObject({ value: { name: 'x' }, problem: null })
  })

  it('moves a corrupt file aside, keeps its bytes, loads defaults and says why', async () => {
    const file = open()
    await fs.writeFile(file.path, '{"version": 2, "name": ')
    const loaded = await file.load()
    expect(loaded.value).toEqual({ name: 'default' })
    expect(loaded.movedTo).toBe(`${file.path}.corrupt-2026-11-22T10-00-00-000Z`)
    expect(loaded.problem).toMatch(
      /doc\.json is not valid JSON: .*; it was moved to .*corrupt-2026-11-22T10-00-00-000Z and defaults were loaded/
    )
    expect(await fs.readFile(loaded.movedTo!, 'utf8')).toBe('{"version": 2, "name": ')
    await expect(fs.access(file.path)).rejects.toThrow()
  })

  it('moves aside a file that parses but is invalid', async () => {
    const file = open()
    await fs.writeFile(file.path, JSON.stringify({ version: 2, name: 7 }))
    const loaded = await file.load()
    expect(loaded.problem).toMatch(/is invalid: name must be text/)
    expect(loaded.movedTo).not.toBeNull()
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
      parse: (d) => ok(d as Doc)
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

  it('moves an invalid profiles file aside and reports which rule is wrong', async () => {
    await fs.writeFile(
      path.join(dir, 'profiles.json'),
      JSON.stringify({
        version: 1,
        profiles: [
          { ...profile, rules: [{ ...profile.rules[0], matchers: [{ type: 'ip', value: '300.1.1.1/8' }] }] }
        ]
      })
    )
    const { store, problem } = await ProfileStore.open(dir)
    expect(problem).toMatch(
      /profiles\.json is invalid: .*rule "r" \(#1\), matcher #1 \(ip\).*moved to .*profiles\.json\.corrupt-/
    )
    expect(store.list().map((p) => p.id)).toEqual(['direct'])
    expect((await fs.readdir(dir)).some((f) => f.startsWith('profiles.json.corrupt-'))).toBe(true)
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
