/**
 * Properties of the UI boundary: for every method of the contract, a payload its schema refuses is
 * refused with a message — through `dispatch`, through the Electron IPC handlers (a stand-in
 * `ipcMain`, since Electron cannot run here) and through the dashboard's WebSocket — and the data
 * directory's files are byte for byte what they were.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { API_METHODS, channelFor, type ApiMethod } from '../../common/ipc-contract.ts'
import { API_PAYLOADS } from '../../common/ipc-payloads.ts'
import type { Result } from '../../common/result.ts'
import { startRuntime, type Runtime } from '../../main/app/runtime.ts'
import { startDashboard, type Dashboard } from '../../main/dashboard/dashboard-server.ts'
import { registerIpc } from '../../main/ipc/register.ts'
import { dispatch } from '../../main/services/dispatch.ts'
import { anyJson, SETTINGS_LEAVES, setAt, snapshot, validProfile, validSettings } from './arbitraries.ts'

const PAGE = 'file:///junction/index.html'

let dataDir: string
let app: Runtime
let dashboard: Dashboard
let ws: WebSocket
const handlers = new Map<string, (event: unknown, ...args: unknown[]) => Promise<Result<unknown>>>()
let saved: Record<string, string>

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-property-ipc-'))
  app = await startRuntime({ dataDir, port: 0, log: () => undefined })
  // Saved state worth protecting: a profile, changed settings and a flushed history.
  const profile = { id: 'work', name: 'Work', upstreams: [], rules: [], defaultAction: { type: 'direct' } }
  expect((await app.service.saveProfile(profile as never)).ok).toBe(true)
  expect((await app.service.updateSettings({ via: false })).ok).toBe(true)
  expect((await app.history.flush()).ok).toBe(true)
  registerIpc(
    { handle: (channel, fn) => void handlers.set(channel, fn as never) },
    app.service,
    (url) => url === PAGE
  )
  dashboard = await startDashboard({ api: app.service, staticDir: path.join(dataDir, 'no-ui') })
  ws = new WebSocket(`ws://127.0.0.1:${dashboard.port}/api?token=${dashboard.token}`, {
    headers: { Origin: `http://127.0.0.1:${dashboard.port}` }
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  saved = await snapshot(dataDir)
  expect(Object.keys(saved).sort()).toEqual(['history.json', 'profiles.json', 'settings.json'])
})
afterAll(async () => {
  ws?.close()
  await dashboard?.close()
  await app?.stop()
  await fs.rm(dataDir, { recursive: true, force: true })
})

let nextId = 1
function overDashboard(method: unknown, args: unknown): Promise<Result<unknown>> {
  const id = nextId++
  return new Promise((resolve) => {
    const onMessage = (data: Buffer): void => {
      const reply = JSON.parse(data.toString()) as { id: number; result: Result<unknown> }
      if (reply.id !== id) return
      ws.off('message', onMessage)
      resolve(reply.result)
    }
    ws.on('message', onMessage)
    ws.send(JSON.stringify({ id, method, args }))
  })
}

function expectRefused(result: Result<unknown>): void {
  expect(result.ok).toBe(false)
  if (result.ok) return
  expect(result.error.code).toBe('invalid-input')
  expect(result.error.message).toMatch(/\S/)
}

/**
 * The arguments each transport hands to `dispatch`: the dashboard reads missing (null) arguments as
 * none, and Electron spreads what the renderer passed, so a single value arrives as one argument.
 */
const asSent = (args: unknown) => ({
  dispatch: args,
  dashboard: JSON.parse(JSON.stringify(args ?? [])) as unknown,
  ipc: Array.isArray(args) ? args : [args]
})

/**
 * Arguments the method's schema refuses however they travel: random values, arrays of the right
 * length, near misses. (Accepted ones would really run: launch Chromium, regenerate the CA.)
 */
function refusedArgs(method: ApiMethod): fc.Arbitrary<unknown> {
  const schema = API_PAYLOADS[method]
  const arity = (schema as unknown as { def: { items: unknown[] } }).def.items.length
  const near: fc.Arbitrary<unknown>[] = []
  if (method === 'updateSettings')
    near.push(
      fc
        .tuple(validSettings, fc.constantFrom(...SETTINGS_LEAVES), anyJson)
        .map(([settings, leaf, value]) => [setAt(settings, leaf, value)])
    )
  if (method === 'saveProfile')
    near.push(
      fc
        .tuple(
          validProfile,
          fc.constantFrom(['id'], ['name'], ['rules', 0, 'action'], ['upstreams', 0, 'port']),
          anyJson
        )
        .map(([profile, at, value]) => [setAt(profile, at, value)])
    )
  return fc
    .oneof(
      anyJson,
      fc.array(anyJson, { maxLength: 4 }),
      fc.array(anyJson, { minLength: arity, maxLength: arity }),
      ...near
    )
    .filter((args) => Object.values(asSent(args)).every((sent) => !schema.safeParse(sent).success))
}

describe('every method refuses what its schema refuses, and saved state does not change', () => {
  it.each(API_METHODS.map((m) => [m]))('%s', async (method) => {
    const handler = handlers.get(channelFor(method))!
    await fc.assert(
      fc.asyncProperty(refusedArgs(method), async (args) => {
        const sent = asSent(args)
        expectRefused(await dispatch(app.service, method, sent.dispatch))
        expectRefused(await overDashboard(method, args))
        expectRefused(await handler({ senderFrame: { url: PAGE } }, ...sent.ipc))
      }),
      { numRuns: 12 }
    )
    expect(await snapshot(dataDir)).toEqual(saved)
  })

  it('unknown methods and calls from a foreign frame are refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        anyJson.filter((name) => !(API_METHODS as readonly unknown[]).includes(name)),
        fc.array(anyJson, { maxLength: 3 }),
        async (name, args) => {
          expectRefused(await dispatch(app.service, name, args))
          expectRefused(await overDashboard(name, args))
        }
      ),
      // Found by this property: a method name like this made dispatch throw, and the dashboard's
      // unhandled rejection ended headless Junction.
      { numRuns: 60, examples: [[[{ toString: '' }], []]] }
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...API_METHODS),
        fc.oneof(fc.webUrl(), fc.constant('about:blank'), fc.constant('')),
        async (method, url) => {
          expectRefused(await handlers.get(channelFor(method))!({ senderFrame: { url } }, 'work'))
        }
      ),
      { numRuns: 60 }
    )
    expect(await snapshot(dataDir)).toEqual(saved)
  })
})
