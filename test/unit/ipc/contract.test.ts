import { describe, expect, it, vi } from 'vitest'
import { API_EVENTS, API_METHODS, channelFor } from '../../../common/ipc-contract.ts'
import { API_PAYLOADS } from '../../../common/ipc-payloads.ts'
import { registerIpc, trustedOrigins } from '../../../main/ipc/register.ts'
import { runShutdown } from '../../../main/lifecycle/shutdown.ts'
import { mainWindowOptions } from '../../../main/window.ts'
import type { AppApi } from '../../../common/ipc-contract.ts'

const exposed: Record<string, unknown> = {}
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, value: unknown) => (exposed[key] = value) },
  ipcRenderer: { invoke: vi.fn(), on: vi.fn(), removeListener: vi.fn() }
}))

describe('the contract', () => {
  it('lists the same methods in the contract, the payload schemas and the preload bridge', async () => {
    await import('../../../preload/index.ts')
    const bridge = exposed.api as Record<string, unknown>
    expect(Object.keys(API_PAYLOADS).sort()).toEqual([...API_METHODS].sort())
    expect(Object.keys(bridge).sort()).toEqual([...API_METHODS, ...API_EVENTS].sort())
    for (const key of Object.keys(bridge)) expect(typeof bridge[key]).toBe('function')
  })

  it('preload calls go to the method’s channel and listeners never see the IPC event', async () => {
    const { buildBridge } = await import('../../../preload/index.ts')
    const invoke = vi.fn().mockResolvedValue({ ok: true, value: 1 })
    const handlers = new Map<string, (event: unknown, payload: unknown) => void>()
    const renderer = {
      invoke,
      on: (channel: string, fn: (event: unknown, payload: unknown) => void) => handlers.set(channel, fn),
      removeListener: (channel: string) => handlers.delete(channel)
    }
    const bridge = buildBridge(renderer as never) as Record<string, (...a: unknown[]) => unknown>
    await bridge.explain!('p', 'http://a.test/')
    expect(invoke).toHaveBeenCalledWith('junction:explain', 'p', 'http://a.test/')
    const seen: unknown[] = []
    const off = bridge.onStats!((payload: unknown) => seen.push(payload)) as () => void
    handlers.get(channelFor('onStats'))!({ sender: 'secret' }, { openCount: 3 })
    expect(seen).toEqual([{ openCount: 3 }])
    off()
    expect(handlers.has(channelFor('onStats'))).toBe(false)
  })
})

describe('IPC handlers', () => {
  const fileUrl = 'file:///opt/Junction/resources/app.asar/out/renderer/index.html'
  const setup = () => {
    const handlers = new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>()
    const api = Object.fromEntries(
      API_METHODS.map((m) => [m, vi.fn().mockResolvedValue({ ok: true, value: m })])
    ) as unknown as AppApi
    registerIpc(
      { handle: (channel: string, fn: never) => handlers.set(channel, fn) } as never,
      api,
      trustedOrigins(undefined, fileUrl)
    )
    return { handlers, api }
  }
  const from = (url: string) => ({ senderFrame: { url } })

  it('registers one handler per contract method', () => {
    const { handlers } = setup()
    expect([...handlers.keys()].sort()).toEqual(API_METHODS.map(channelFor).sort())
  })

  it('dispatches valid calls from Junction’s page', async () => {
    const { handlers, api } = setup()
    expect(await handlers.get('junction:explain')!(from(fileUrl), 'work', 'https://a.test/')).toEqual({
      ok: true,
      value: 'explain'
    })
    expect(api.explain).toHaveBeenCalledWith('work', 'https://a.test/')
    await handlers.get('junction:explain')!(from(fileUrl), 'work', 'http://a.test/x', 'POST')
    expect(api.explain).toHaveBeenLastCalledWith('work', 'http://a.test/x', 'POST')
    expect(
      await handlers.get('junction:explain')!(from(fileUrl), 'work', 'http://a.test/', 'GET /')
    ).toMatchObject({
      ok: false,
      error: { code: 'invalid-input' }
    })
  })

  it('refuses calls from any other frame', async () => {
    const { handlers, api } = setup()
    for (const url of ['https://evil.example/', 'file:///tmp/other.html', 'about:blank'])
      expect(await handlers.get('junction:deleteProfile')!(from(url), 'work')).toMatchObject({
        ok: false,
        error: { code: 'invalid-input', message: `Refused a call from ${url}` }
      })
    expect(await handlers.get('junction:deleteProfile')!({ senderFrame: null }, 'work')).toMatchObject({
      ok: false
    })
    expect(api.deleteProfile).not.toHaveBeenCalled()
  })

  it('rejects payloads that fail validation, naming the problem, without calling the service', async () => {
    const { handlers, api } = setup()
    const bad = await handlers.get('junction:saveProfile')!(from(fileUrl), {
      id: 'x',
      name: '',
      upstreams: 'none'
    })
    // A profile is checked whole, and the message names the field in words.
    expect(bad).toMatchObject({
      ok: false,
      error: { code: 'invalid-input', message: 'Profile "" is invalid: name: must not be empty' }
    })
    const unknownUpstream = await handlers.get('junction:saveProfile')!(from(fileUrl), {
      id: 'x',
      name: 'X',
      upstreams: [],
      rules: [],
      defaultAction: { type: 'upstream', upstreamId: 'gone' }
    })
    expect(unknownUpstream).toMatchObject({
      ok: false,
      error: {
        message: 'Profile "X" is invalid: default action: no upstream or group with id "gone" in this profile'
      }
    })
    expect(await handlers.get('junction:saveProfile')!(from(fileUrl))).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/^Invalid arguments for saveProfile: /) }
    })
    expect(await handlers.get('junction:closeConnection')!(from(fileUrl), -1)).toMatchObject({ ok: false })
    expect(await handlers.get('junction:getStats')!(from(fileUrl), 'extra')).toMatchObject({ ok: false })
    expect(api.saveProfile).not.toHaveBeenCalled()
  })

  it('exports the CA only as PEM or DER', async () => {
    const { handlers, api } = setup()
    const exportCa = handlers.get('junction:exportCertificateAuthority')!
    expect(await exportCa(from(fileUrl), 'pfx')).toMatchObject({
      ok: false,
      error: {
        code: 'invalid-input',
        message: expect.stringMatching(/^Invalid arguments for exportCertificateAuthority: /)
      }
    })
    expect(api.exportCertificateAuthority).not.toHaveBeenCalled()
    expect(await exportCa(from(fileUrl), 'der')).toEqual({ ok: true, value: 'exportCertificateAuthority' })
    expect(api.exportCertificateAuthority).toHaveBeenCalledWith('der')
    expect(await handlers.get('junction:regenerateCertificateAuthority')!(from(fileUrl), true)).toMatchObject(
      {
        ok: false
      }
    )
  })
})

describe('Inspect calls', () => {
  const fileUrl = 'file:///opt/Junction/resources/app.asar/out/renderer/index.html'
  const from = { senderFrame: { url: fileUrl } }

  it('validate the list query, exchange ids and the recording switch before the service sees them', async () => {
    const handlers = new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>()
    const api = Object.fromEntries(
      API_METHODS.map((m) => [m, vi.fn().mockResolvedValue({ ok: true, value: m })])
    ) as unknown as AppApi
    registerIpc(
      { handle: (channel: string, fn: never) => handlers.set(channel, fn) } as never,
      api,
      trustedOrigins(undefined, fileUrl)
    )
    const call = (name: string, ...args: unknown[]) => handlers.get(channelFor(name as never))!(from, ...args)
    const query = {
      offset: 0,
      limit: 50,
      filter: { host: 'api', status: '4xx', method: 'post', text: '/login' }
    }
    expect(await call('listExchanges', query)).toEqual({ ok: true, value: 'listExchanges' })
    expect(api.listExchanges).toHaveBeenCalledWith(query)
    expect(
      await call('listExchanges', { offset: 0, limit: 50, filter: { status: '200 OR 1' } })
    ).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('filter.status') }
    })
    expect(await call('listExchanges', { offset: 0, limit: 5000 })).toMatchObject({ ok: false })
    expect(await call('exchangeDetail', 0)).toMatchObject({ ok: false })
    expect(await call('exchangeAsCurl', '7')).toMatchObject({ ok: false })
    expect(await call('setInspectRecording', 'yes')).toMatchObject({ ok: false })
    expect(api.listExchanges).toHaveBeenCalledTimes(1)
    expect(api.exchangeDetail).not.toHaveBeenCalled()
    expect(api.setInspectRecording).not.toHaveBeenCalled()
    expect(await call('setInspectRecording', true)).toEqual({ ok: true, value: 'setInspectRecording' })
  })
})

describe('desktop shell', () => {
  it('opens the window with the secure settings', () => {
    const options = mainWindowOptions('/app/preload/index.cjs')
    expect(options.webPreferences).toMatchObject({
      preload: '/app/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false
    })
  })

  it('quitting runs every step even when one throws, and is capped', async () => {
    const order: string[] = []
    const report = await runShutdown([
      { name: 'system proxy', run: async () => void order.push('sysproxy') },
      {
        name: 'engine',
        run: async () => {
          order.push('engine')
          throw new Error('engine stuck')
        }
      },
      { name: 'history', run: async () => void order.push('history') }
    ])
    expect(order).toEqual(['sysproxy', 'engine', 'history'])
    expect(report).toEqual({
      completed: ['system proxy', 'history'],
      failed: [{ name: 'engine', message: 'engine stuck' }],
      timedOut: false
    })
    const started = Date.now()
    const capped = await runShutdown([{ name: 'hang', run: () => new Promise(() => undefined) }], 200)
    expect(capped.timedOut).toBe(true)
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
