/**
 * The service layer for real: a headless Junction with a data directory, driven through `dispatch`
 * the way Electron IPC and the dashboard drive it, with traffic through a real squid.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { SECRET_PLACEHOLDER, type AppApi, type TrafficRates } from '../../common/ipc-contract.ts'
import type { Profile, Settings } from '../../common/model.ts'
import type { Result } from '../../common/result.ts'
import { startRuntime, type Runtime } from '../../main/app/runtime.ts'
import { dispatch } from '../../main/services/dispatch.ts'
import { proxyGet } from '../harness/client.ts'
import { startWorld, type World } from './world.ts'

let world: World
let dataDir: string
let app: Runtime
let api: AppApi
const settingsChanged = vi.fn<(settings: Settings) => void>()

const call = async <T>(name: string, ...args: unknown[]): Promise<T> => {
  const result = (await dispatch(api, name, args)) as Result<T>
  if (!result.ok) throw new Error(`${name}: ${result.error.message}`)
  return result.value
}

beforeAll(async () => {
  world = await startWorld()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-service-'))
  app = await startRuntime({ dataDir, port: 0, log: () => undefined, onSettingsChanged: settingsChanged })
  api = app.service
}, 60_000)
afterAll(async () => {
  await app?.stop()
  await world?.close()
  await fs.rm(dataDir, { recursive: true, force: true })
})

const work = (): Profile => ({
  id: 'work',
  name: 'Work',
  upstreams: [world.upstreams.squid],
  rules: [
    {
      id: 'ads',
      enabled: true,
      matchers: [{ type: 'domain', value: 'ads.test' }],
      action: { type: 'block', status: 403, body: 'no ads' }
    },
    {
      id: 'local',
      enabled: true,
      matchers: [{ type: 'host', value: 'localhost' }],
      action: { type: 'direct' }
    }
  ],
  defaultAction: { type: 'upstream', upstreamId: 'squid' }
})

describe('service', () => {
  it('create a profile, make it active, and traffic follows it', async () => {
    const port = app.engine.port!
    const viaDirect = await proxyGet(port, `${world.origin.url}/echo`)
    // Only Junction's own Via (on by default): the request went straight to the origin.
    expect(JSON.parse(viaDirect.body.toString()).headers.via).toMatch(/^1\.1 junction\S*$/)

    const saved = await call<Profile>('saveProfile', work())
    expect(saved.upstreams[0]!.password).toBe(SECRET_PLACEHOLDER)
    const state = await call<{ profileId: string }>('setActiveProfile', 'work')
    expect(state.profileId).toBe('work')

    const viaSquid = await proxyGet(port, `${world.origin.url}/echo`)
    expect(JSON.parse(viaSquid.body.toString()).headers.via).toMatch(/squid/)
    expect((await proxyGet(port, 'http://x.ads.test/')).status).toBe(403)
    // The choice is saved, and the runtime's settings hook saw it like any other settings change.
    expect(JSON.parse(await fs.readFile(path.join(dataDir, 'settings.json'), 'utf8')).activeProfileId).toBe(
      'work'
    )
    expect(settingsChanged).toHaveBeenLastCalledWith(expect.objectContaining({ activeProfileId: 'work' }))
  })

  it('never sends passwords to the UI, and saving the placeholder keeps the stored one', async () => {
    const listed = await call<Profile[]>('listProfiles')
    const work = listed.find((p) => p.id === 'work')!
    expect(JSON.stringify(listed)).not.toContain(world.upstreams.squid.password!)
    await call('saveProfile', { ...work, name: 'Work (renamed)' })
    // Traffic still authenticates at squid, so the real password was kept.
    const res = await proxyGet(app.engine.port!, `${world.origin.url}/echo`)
    expect(res.status).toBe(200)
    expect(app.profiles.get('work')!.upstreams[0]!.password).toBe(world.upstreams.squid.password)
  })

  it('explains a URL, moves a rule and refuses a move of a rule it does not have', async () => {
    expect((await call<{ text: string }>('explain', 'work', 'http://x.ads.test/')).text).toMatch(
      /^rule "ads" #1/
    )
    expect(await call('moveRules', 'work', [{ ruleId: 'local', index: 0 }])).toEqual({
      ruleCount: 2,
      before: [{ ruleId: 'local', index: 1 }]
    })
    expect(app.profiles.get('work')!.rules.map((r) => r.id)).toEqual(['local', 'ads'])
    expect(await dispatch(api, 'moveRules', ['work', [{ ruleId: 'gone', index: 0 }]])).toMatchObject({
      ok: false,
      error: { code: 'not-found' }
    })
  })

  it('rejects invalid input with a specific message and saves nothing', async () => {
    const before = await fs.readFile(path.join(dataDir, 'profiles.json'), 'utf8')
    const bad = await dispatch(api, 'saveProfile', [
      {
        ...work(),
        rules: [
          { id: 'r', enabled: true, matchers: [{ type: 'regex', value: '(' }], action: { type: 'direct' } }
        ]
      }
    ])
    expect(bad).toMatchObject({
      ok: false,
      error: { code: 'invalid-input', message: expect.stringMatching(/regex/) }
    })
    expect(await dispatch(api, 'noSuchCall', [])).toMatchObject({
      ok: false,
      error: { message: 'Unknown call "noSuchCall"' }
    })
    expect(await fs.readFile(path.join(dataDir, 'profiles.json'), 'utf8')).toBe(before)
  })

  it('reports statistics, the request log and history; exports and re-imports the configuration', async () => {
    app.stats.tick()
    const stats = await call<{ totalDown: number }>('getStats')
    expect(stats.totalDown).toBeGreaterThan(0)
    const log = await call<{ host: string }[]>('getRequestLog', { limit: 10, filter: 'ads.test' })
    expect(log.map((e) => e.host)).toEqual(['x.ads.test'])
    // Entries carry names as they are now (the profile was renamed after the request), and the filter
    // searches them: here the unnamed rule's description.
    expect(await call('getRequestLog', { limit: 10, filter: 'renamed  BLOCK 403' })).toMatchObject([
      {
        host: 'x.ads.test',
        profileName: 'Work (renamed)',
        ruleName: 'domain ads.test and subdomains → block 403'
      }
    ])
    const top = await call<{ host: string }[]>('topHosts', {
      from: Date.now() - 3_600_000,
      to: Date.now() + 60_000,
      limit: 5
    })
    expect(top.map((h) => h.host)).toContain('127.0.0.1')
    // The chart's series and breakdowns: rates over the range, shares by profile name.
    const hour = await call<TrafficRates>('trafficRates', { range: '1h' })
    expect(hour.step).toBe(60_000)
    expect(hour.points.length).toBeGreaterThanOrEqual(60)
    expect(hour.points.some((p) => p.down > 0)).toBe(true)
    const recent = await call<TrafficRates>('trafficRates', { range: '5m' })
    expect(recent.step).toBe(1000)
    expect(recent.points.at(-1)!.at).toBeGreaterThanOrEqual(recent.from)
    expect(
      (await call<{ name: string }[]>('trafficBreakdown', { range: '1h', kind: 'profile', limit: 5 })).map(
        (s) => s.name
      )
    ).toContain('Work (renamed)')
    expect(await dispatch(api, 'trafficRates', [{ range: '7d' }])).toMatchObject({ ok: false })
    const exported = await call<string>('exportConfig')
    expect(exported).not.toContain(world.upstreams.squid.password!)
    expect(await call('importConfig', exported)).toEqual({ profiles: 1 })
    expect(app.profiles.get('work')!.upstreams[0]!.password).toBe(world.upstreams.squid.password)
    expect(
      await dispatch(api, 'importConfig', ['{"format":"junction-config","profiles":[{"id":"x"}]}'])
    ).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/^Nothing was imported/) }
    })
  })

  it('deleting the active profile falls back to Direct', async () => {
    await call('deleteProfile', 'work')
    expect(app.engine.state).toMatchObject({ profileId: 'direct' })
  })
})

describe('runtime', () => {
  it('passes settings.json to the engine: "via": false sends no Via header', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-runtime-'))
    await fs.writeFile(path.join(dir, 'settings.json'), JSON.stringify({ version: 1, port: 0, via: false }))
    const runtime = await startRuntime({ dataDir: dir, log: () => undefined })
    try {
      const res = await proxyGet(runtime.engine.port!, `${world.origin.url}/echo`)
      expect(JSON.parse(res.body.toString()).headers.via).toBeUndefined()
    } finally {
      await runtime.stop()
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
