/**
 * The system proxy follows the engine: on at start when configured, back to the user's settings when
 * the engine stops or fails, and the PAC file follows the active profile.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Profile } from '../../../common/model.ts'
import { ProxyEngine } from '../../../main/engine/engine.ts'
import { attachSystemProxy } from '../../../main/sysproxy/attach.ts'
import { PacPublisher } from '../../../main/sysproxy/pac.ts'
import type {
  DesiredProxy,
  OsSnapshot,
  ProxyView,
  SystemProxyPlatform
} from '../../../main/sysproxy/types.ts'

/** An OS proxy setting kept in memory, with the calls made to it. */
function memoryPlatform(): SystemProxyPlatform & { current: ProxyView; calls: string[] } {
  const view = (): ProxyView => ({ ...platform.current, bypass: [...platform.current.bypass] })
  const platform = {
    id: 'gnome' as const,
    calls: [] as string[],
    current: {
      mode: 'none',
      http: null,
      https: null,
      socks: null,
      bypass: [],
      pacUrl: null,
      autoDetect: false
    } as ProxyView,
    async snapshot(): Promise<OsSnapshot> {
      return { platform: 'gnome', data: view() }
    },
    view: (snapshot: OsSnapshot) => snapshot.data as ProxyView,
    async apply(desired: DesiredProxy) {
      platform.calls.push(`apply ${desired.mode}`)
      platform.current =
        desired.mode === 'pac'
          ? { ...platform.current, mode: 'pac', pacUrl: desired.url }
          : {
              ...platform.current,
              mode: 'manual',
              http: desired.http,
              https: desired.https,
              socks: desired.socks,
              bypass: desired.bypass
            }
    },
    async restore(snapshot: OsSnapshot) {
      platform.calls.push('restore')
      platform.current = snapshot.data as ProxyView
    }
  }
  return platform
}

let dir: string
let engine: ProxyEngine
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-attach-'))
  engine = new ProxyEngine({ port: 0 })
  await engine.start()
})
afterEach(async () => {
  await engine.stop()
  await fs.rm(dir, { recursive: true, force: true })
})

const settings = { mode: 'manual' as const, socks: false, bypass: [], guard: 'reapply' as const }

describe('attachSystemProxy', () => {
  it('turns the OS proxy on at start and restores it when the engine stops', async () => {
    const platform = memoryPlatform()
    const lines: string[] = []
    const attached = await attachSystemProxy({
      dataDir: dir,
      settings,
      engine,
      pac: new PacPublisher(),
      log: (l) => lines.push(l),
      platform
    })
    expect(platform.current).toMatchObject({ mode: 'manual', http: { host: '127.0.0.1', port: engine.port } })
    expect(attached.status()).toEqual({ status: 'on', mode: 'manual', platform: 'gnome', detail: null })
    await engine.stop()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(platform.calls).toEqual(['apply manual', 'restore'])
    expect(platform.current.mode).toBe('none')
    await expect(fs.access(path.join(dir, 'sysproxy-journal.json'))).rejects.toThrow()
  })

  it('restores when the engine fails, and switches modes at run time', async () => {
    const platform = memoryPlatform()
    const attached = await attachSystemProxy({
      dataDir: dir,
      settings: { ...settings, mode: 'off' },
      engine,
      pac: new PacPublisher(),
      log: () => undefined,
      platform
    })
    expect(platform.calls).toEqual([])
    expect((await attached.setMode('pac')).ok).toBe(true)
    expect(platform.current).toMatchObject({
      mode: 'pac',
      pacUrl: `http://127.0.0.1:${engine.port}/proxy.pac`
    })
    engine.emit('state', { status: 'failed', error: 'boom' })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(platform.calls).toEqual(['apply pac', 'restore'])
  })

  it('keeps the PAC file in step with the active profile', async () => {
    const pac = new PacPublisher()
    await attachSystemProxy({
      dataDir: dir,
      settings: { ...settings, mode: 'off' },
      engine,
      pac,
      log: () => undefined,
      platform: memoryPlatform()
    })
    expect(pac.current!.body).toContain(`PROXY 127.0.0.1:${engine.port}; DIRECT`)
    const strict: Profile = {
      id: 'strict',
      name: 'Strict',
      upstreams: [],
      rules: [],
      defaultAction: { type: 'direct' },
      pacFailClosed: true
    }
    const before = pac.current!.etag
    engine.applyProfile(strict)
    expect(pac.current!.body).toContain('profile "Strict", fail-closed')
    expect(pac.current!.body).toContain(`return "PROXY 127.0.0.1:${engine.port}";`)
    expect(pac.current!.etag).not.toBe(before)
  })
})
