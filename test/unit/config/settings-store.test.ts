/**
 * settings.json from older Junctions loads with the new fields defaulted, and a settings change may
 * carry only some fields of a group — through the store and through the IPC checkpoint.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { AppApi } from '../../../common/ipc-contract.ts'
import { DEFAULT_SETTINGS } from '../../../common/model.ts'
import { ok } from '../../../common/result.ts'
import { SETTINGS_FILE, SettingsStore } from '../../../main/config/settings-store.ts'
import { dispatch } from '../../../main/services/dispatch.ts'

let dir: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-settings-'))
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

/** settings.json as the release before timeouts and Via wrote it. */
const OLDER_FILE = {
  version: 1,
  listenHost: '127.0.0.1',
  port: 9001,
  proxyAuth: null,
  activeProfileId: 'work',
  requestLogFile: true,
  systemProxy: { mode: 'pac', socks: false, bypass: ['intranet.test'], guard: 'yield' },
  desktop: { startAtLogin: true, startMinimized: false, closeToTray: false }
}

async function openWith(doc: object): Promise<Awaited<ReturnType<typeof SettingsStore.open>>> {
  await fs.writeFile(path.join(dir, SETTINGS_FILE), JSON.stringify(doc))
  return SettingsStore.open(dir)
}

const setAside = async (): Promise<string[]> =>
  (await fs.readdir(dir)).filter((name) => name.includes('.corrupt-'))

describe('loading settings.json', () => {
  it('fills timeouts, via and trusted CAs from the defaults and keeps everything the file says', async () => {
    const { store, problem } = await openWith(OLDER_FILE)
    expect(problem).toBeNull()
    const { version: _version, ...saved } = OLDER_FILE
    expect(store.get()).toEqual({ ...saved, timeouts: DEFAULT_SETTINGS.timeouts, via: true, trustedCas: [] })
    expect(await setAside()).toEqual([])
  })

  it('fills the timeouts a partial group leaves out, and fields missing from other groups', async () => {
    const { store, problem } = await openWith({
      ...OLDER_FILE,
      timeouts: { connectSeconds: 5 },
      via: false,
      desktop: { startAtLogin: true }
    })
    expect(problem).toBeNull()
    expect(store.get().timeouts).toEqual({ ...DEFAULT_SETTINGS.timeouts, connectSeconds: 5 })
    expect(store.get().via).toBe(false)
    expect(store.get().desktop).toEqual({ ...DEFAULT_SETTINGS.desktop, startAtLogin: true })
    expect(await setAside()).toEqual([])
  })

  it('replaces only an out-of-range timeout by its default, naming it once; the port stays', async () => {
    const { store, problem } = await openWith({ ...OLDER_FILE, timeouts: { idleClientSeconds: 1 } })
    expect(problem).toMatch(/timeouts\.idleClientSeconds: must be 5–3600 s \(using the default, 120\)/)
    expect(problem!.match(/idleClientSeconds/g)).toHaveLength(1)
    const { version: _version, ...saved } = OLDER_FILE
    expect(store.get()).toEqual({ ...saved, timeouts: DEFAULT_SETTINGS.timeouts, via: true, trustedCas: [] })
    expect(await setAside()).toEqual([])
  })

  it('keeps every valid field when one is invalid, and leaves the file as it is', async () => {
    const doc = {
      ...OLDER_FILE,
      port: 'eighty',
      via: false,
      desktop: { ...OLDER_FILE.desktop, closeToTray: 3 }
    }
    const { store, problem } = await openWith(doc)
    expect(problem).toMatch(
      /settings\.json has invalid entries, ignored: port: .*\(using the default, 8899\)/
    )
    expect(problem).toMatch(/desktop\.closeToTray: .*\(using the default, true\)/)
    expect(store.get()).toMatchObject({
      port: 8899,
      via: false,
      activeProfileId: 'work',
      systemProxy: OLDER_FILE.systemProxy,
      desktop: { startAtLogin: true, startMinimized: false, closeToTray: true }
    })
    expect(JSON.parse(await fs.readFile(path.join(dir, SETTINGS_FILE), 'utf8'))).toEqual(doc)
    expect(await setAside()).toEqual([])
  })

  it('LAN access without credentials: keeps the port and the rest, listens on loopback, says why', async () => {
    const doc = { ...OLDER_FILE, listenHost: '0.0.0.0' }
    const { store, problem } = await openWith(doc)
    expect(problem).toMatch(
      /listenHost "0\.0\.0\.0" \(LAN access\) needs proxyAuth \(a username and password\): listening on 127\.0\.0\.1 only/
    )
    expect(store.get()).toMatchObject({ listenHost: '127.0.0.1', port: 9001, requestLogFile: true })
    expect(JSON.parse(await fs.readFile(path.join(dir, SETTINGS_FILE), 'utf8'))).toEqual(doc)
  })

  it('drops only the trusted CA that does not parse', async () => {
    const garbled = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n'
    const { store, problem } = await openWith({ ...OLDER_FILE, trustedCas: [garbled, 'not pem'] })
    expect(problem).toMatch(/trustedCas\.1: must be a PEM certificate \(left out\)/)
    expect(problem).toMatch(/trustedCas\.0: not a readable certificate .*\(left out\)/)
    expect(store.get().trustedCas).toEqual([])
    expect(store.get().port).toBe(9001)
  })

  it('keeps a copy of the invalid original when a change is first saved', async () => {
    const doc = { ...OLDER_FILE, port: -1 }
    const { store } = await openWith(doc)
    expect((await store.update({ via: false })).ok).toBe(true)
    const [copy] = await setAside()
    expect(JSON.parse(await fs.readFile(path.join(dir, copy!), 'utf8'))).toEqual(doc)
    expect(JSON.parse(await fs.readFile(path.join(dir, SETTINGS_FILE), 'utf8'))).toMatchObject({
      port: 8899,
      via: false
    })
  })

  it('writes back fields a newer Junction added, at the top and inside groups', async () => {
    const doc = {
      ...OLDER_FILE,
      theme: { accent: 'teal' },
      timeouts: { connectSeconds: 5, dnsSeconds: 3 },
      desktop: { ...OLDER_FILE.desktop, badge: true }
    }
    const { store, problem } = await openWith(doc)
    expect(problem).toBeNull()
    expect(store.get()).not.toHaveProperty('theme')
    expect((await store.update({ port: 9100, timeouts: { connectSeconds: 6 } })).ok).toBe(true)
    const onDisk = JSON.parse(await fs.readFile(path.join(dir, SETTINGS_FILE), 'utf8'))
    expect(onDisk).toMatchObject({
      port: 9100,
      theme: { accent: 'teal' },
      timeouts: { connectSeconds: 6, dnsSeconds: 3 },
      desktop: { badge: true, startAtLogin: true }
    })
  })
})

describe('changing settings', () => {
  it('merges a partial timeouts change with the current values and persists it', async () => {
    const { store } = await openWith({ ...OLDER_FILE, timeouts: { idleTunnelSeconds: 60 } })
    const saved = await store.update({ timeouts: { connectSeconds: 30 }, via: false })
    expect(saved).toEqual(
      ok({
        ...store.get(),
        timeouts: { ...DEFAULT_SETTINGS.timeouts, idleTunnelSeconds: 60, connectSeconds: 30 },
        via: false
      })
    )
    const reopened = (await SettingsStore.open(dir)).store.get()
    expect(reopened.timeouts).toEqual({
      ...DEFAULT_SETTINGS.timeouts,
      idleTunnelSeconds: 60,
      connectSeconds: 30
    })
    expect(reopened.via).toBe(false)
  })

  it('refuses an out-of-range timeout and keeps the current one', async () => {
    const { store } = await SettingsStore.open(dir)
    expect(await store.update({ timeouts: { responseHeadersSeconds: 0 } })).toMatchObject({
      ok: false,
      error: { message: 'Invalid settings: timeouts.responseHeadersSeconds: must be 1–3600 s' }
    })
    expect(store.get().timeouts).toEqual(DEFAULT_SETTINGS.timeouts)
  })

  it('refuses a trusted CA that is not a readable certificate, naming which', async () => {
    const { store } = await SettingsStore.open(dir)
    const garbled = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n'
    const result = await store.update({ trustedCas: [garbled] })
    expect(result.ok ? null : result.error.message).toMatch(
      /^Invalid settings: trustedCas\.0: not a readable certificate/
    )
    expect(store.get().trustedCas).toEqual([])
  })

  it('passes partial timeouts and via through the IPC checkpoint, and refuses bad values there', async () => {
    const updateSettings = vi.fn<AppApi['updateSettings']>().mockResolvedValue(ok(DEFAULT_SETTINGS))
    const api = { updateSettings } as unknown as AppApi
    expect(await dispatch(api, 'updateSettings', [{ timeouts: { connectSeconds: 30 }, via: false }])).toEqual(
      ok(DEFAULT_SETTINGS)
    )
    expect(updateSettings).toHaveBeenCalledWith({ timeouts: { connectSeconds: 30 }, via: false })
    expect(await dispatch(api, 'updateSettings', [{ timeouts: { connectSeconds: 1.5 } }])).toMatchObject({
      ok: false,
      error: {
        message: 'Not saved: timeouts, connect timeout: must be a whole number of seconds'
      }
    })
    expect(await dispatch(api, 'updateSettings', [{ via: 'yes' }])).toMatchObject({ ok: false })
    // Written for people: no method name, no argument index, fields as Settings labels them.
    expect(
      await dispatch(api, 'updateSettings', [{ proxyAuth: { username: 'ada', password: 'short' } }])
    ).toMatchObject({
      ok: false,
      error: { message: 'Not saved: LAN access, password: must be at least 8 characters' }
    })
    const bypass = { ...DEFAULT_SETTINGS.systemProxy, bypass: ['intranet', 'bad host name', '300.1.1.1/99'] }
    expect(await dispatch(api, 'updateSettings', [{ systemProxy: bypass }])).toMatchObject({
      ok: false,
      error: {
        message:
          'Not saved: system proxy, bypass list, entry 2: "bad host name" has a space: put one host, pattern or CIDR block on each line',
        details: [
          expect.any(String),
          'system proxy, bypass list, entry 3: "300.1.1.1/99" is not a CIDR block (an address, "/" and a prefix length, e.g. 10.0.0.0/8 or fd00::/8)'
        ]
      }
    })
    expect(updateSettings).toHaveBeenCalledTimes(1)
  })
})
