/**
 * The desktop entry (main/index.ts) for real, in plain Node: Electron is faked (fake-electron.ts),
 * everything else — runtime, engine, service, IPC handlers, the preload bridge, the tray — is the
 * real code, and the system proxy is GNOME's, on a private D-Bus session in a temporary home.
 *
 * It proves the window and the tray drive one service: a setting saved from either is applied to the
 * OS (start at login) at once and shows in the other; and quitting puts the system proxy back and
 * stops the engine.
 */
import { execFile } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { AppApi, AppEvents } from '../../common/ipc-contract.ts'
import type { Result } from '../../common/result.ts'
import { proxyGet } from '../harness/client.ts'
import { startDesktopSession, type DesktopSession } from '../harness/desktop-session.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import * as fake from './fake-electron.ts'

vi.mock('electron', () => import('./fake-electron.ts'))

// Counts the services the desktop builds: the window, the tray (and a dashboard) must share one.
const services = vi.hoisted(() => ({ created: 0 }))
vi.mock('../../main/services/junction-service.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../main/services/junction-service.ts')>()
  return {
    ...real,
    createJunctionService: (...args: Parameters<typeof real.createJunctionService>) => {
      services.created++
      return real.createJunctionService(...args)
    }
  }
})

/** `window.api` as the page sees it: the contract's methods, and `onX(listener)` per event. */
type PageApi = AppApi & {
  [K in keyof AppEvents]: (listener: (payload: AppEvents[K]) => void) => () => void
}

const run = promisify(execFile)
let session: DesktopSession
let dataDir: string
let origin: Origin

const gnomeProxyMode = async (): Promise<string> =>
  (await run('gsettings', ['get', 'org.gnome.system.proxy', 'mode'], { env: session.env })).stdout.trim()

const value = async <T>(pending: Promise<Result<T>>): Promise<T> => {
  const result = await pending
  if (!result.ok) throw new Error(result.error.message)
  return result.value
}

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })

// The system proxy here is GNOME's (gsettings on a private D-Bus session), which exists on Linux only.
describe.skipIf(process.platform !== 'linux')('desktop entry', () => {
  beforeAll(async () => {
    // The app's system-proxy controller reads the environment: point it at the private session.
    session = await startDesktopSession('GNOME')
    Object.assign(process.env, session.env)
    delete process.env.ELECTRON_RENDERER_URL
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-desktop-entry-'))
    // English picked; the OS prefers Simplified Chinese, which the tray shows once the pick is System.
    await fs.writeFile(
      path.join(dataDir, 'settings.json'),
      JSON.stringify({ version: 1, port: 0, language: 'en' })
    )
    fake.app.userData = dataDir
    fake.app.systemLanguages = ['zh-Hans-CN', 'en-US']
    origin = await startOrigin()
  })
  afterAll(async () => {
    await origin?.close()
    await session?.close()
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true })
  })

  it('window and tray reach one service; quitting restores the system proxy and stops the engine', async () => {
    await import('../../main/index.ts')
    const tray = await vi.waitFor(() => fake.Tray.created[0] ?? Promise.reject(new Error('no tray yet')))
    const api = fake.mainWorld.api as PageApi
    const [window] = fake.BrowserWindow.created
    expect(window?.visible).toBe(true)
    expect(window?.options.webPreferences).toMatchObject({
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false
    })
    expect(services.created).toBe(1)

    const engine = await value(api.getEngineState())
    if (engine.status !== 'running') throw new Error(`engine is ${engine.status}`)
    expect((await proxyGet(engine.port, `${origin.url}/echo`)).status).toBe(200)
    // Start at login is off by default and was applied at start.
    expect(fake.app.loginItems).toEqual([{ openAtLogin: false }])

    // From the window: applied to the OS at once, and the tray shows it.
    const desktop = { startAtLogin: true, startMinimized: false, closeToTray: true }
    expect((await value(api.updateSettings({ desktop }))).desktop.startAtLogin).toBe(true)
    expect(fake.app.loginItems.at(-1)).toEqual({ openAtLogin: true })
    expect(tray.item('Start at login').checked).toBe(true)

    // From the tray: the same, and the window reads it back.
    tray.item('Start at login').click!()
    await vi.waitFor(() => expect(fake.app.loginItems.at(-1)).toEqual({ openAtLogin: false }))
    expect((await value(api.getSettings())).desktop.startAtLogin).toBe(false)
    expect(tray.item('Start at login').checked).toBe(false)

    // The system proxy, switched on from the window: the OS follows, the page hears of it, the tray shows it.
    const heard: AppEvents['onSystemProxy'][] = []
    const unsubscribe = api.onSystemProxy((status) => heard.push(status))
    expect(await value(api.setSystemProxy('manual'))).toMatchObject({ status: 'on', platform: 'gnome' })
    expect(await gnomeProxyMode()).toBe("'manual'")
    expect(tray.item('System proxy').checked).toBe(true)
    expect(tray.image).toMatch(/tray-on\.png$/)
    await vi.waitFor(() => expect(heard.at(-1)).toMatchObject({ status: 'on' }))
    unsubscribe()

    // Language System, picked in the window: the tray follows the OS's language at once.
    await value(api.updateSettings({ language: 'system' }))
    expect(tray.item('系统代理').checked).toBe(true)
    await value(api.updateSettings({ language: 'en' }))
    expect(tray.item('System proxy').checked).toBe(true)

    // Quit from the tray: before-quit puts the OS proxy back and stops the engine, then the app quits.
    tray.item('Quit Junction').click!()
    await vi.waitFor(() => expect(fake.app.quitted).toBe(true), { timeout: 5000 })
    expect(await gnomeProxyMode()).toBe("'none'")
    expect(existsSync(path.join(dataDir, 'sysproxy-journal.json'))).toBe(false)
    expect(await refused(engine.port)).toBe(true)
  })
})
