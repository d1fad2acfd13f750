/**
 * The desktop entry's part in the watchdog, with Electron mocked (it cannot run here): it hands the
 * runtime its own binary in Node mode running the bundled watchdog.js, and when a build that cannot
 * run as Node is started as a watchdog anyway, it is the watchdog instead of a second Junction.
 */
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WATCHDOG_FLAG } from '../../../main/sysproxy/watchdog.ts'

const { app, startRuntime, runWatchdogProcess } = vi.hoisted(() => ({
  runWatchdogProcess: vi.fn(async (_argv: string[], _input: unknown) => 3),
  app: {
    dock: { hide: vi.fn() },
    requestSingleInstanceLock: vi.fn(() => true),
    whenReady: vi.fn(() => Promise.resolve()),
    on: vi.fn(),
    quit: vi.fn(),
    exit: vi.fn(),
    getPath: vi.fn(() => '/data')
  },
  startRuntime: vi.fn(async (_options: unknown) => {
    throw new Error('stop here')
  })
}))
vi.mock('electron', () => ({
  app,
  BrowserWindow: vi.fn(),
  ipcMain: {},
  powerMonitor: { on: vi.fn() },
  safeStorage: {},
  session: {
    defaultSession: {
      setPermissionRequestHandler: vi.fn(),
      setPermissionCheckHandler: vi.fn(),
      webRequest: { onHeadersReceived: vi.fn() }
    }
  },
  shell: {},
  Menu: {},
  Tray: vi.fn(),
  nativeImage: {}
}))
vi.mock('../../../main/app/runtime.ts', () => ({ startRuntime }))
vi.mock('../../../main/sysproxy/watchdog.ts', async (original) => ({
  ...(await original<typeof import('../../../main/sysproxy/watchdog.ts')>()),
  runWatchdogProcess
}))

const argv = process.argv
beforeEach(() => {
  vi.resetModules()
  vi.clearAllMocks()
})
afterEach(() => {
  process.argv = argv
})

describe('desktop entry and the watchdog', () => {
  it('passes its own binary in Node mode, running out/main/watchdog.js, to the runtime', async () => {
    // No keychain here: the runtime is stopped before it would need one.
    const electron = await import('electron')
    Object.assign(electron.safeStorage, { isEncryptionAvailable: () => false })
    vi.spyOn(console, 'log').mockImplementation(() => undefined)
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    await import('../../../main/index.ts')
    await vi.waitFor(() => expect(startRuntime, JSON.stringify(errors.mock.calls)).toHaveBeenCalled())
    expect((startRuntime.mock.calls[0]![0] as { watchdog: unknown }).watchdog).toEqual({
      command: process.execPath,
      args: [path.resolve(import.meta.dirname, '../../../main/watchdog.js'), WATCHDOG_FLAG],
      env: { ELECTRON_RUN_AS_NODE: '1' }
    })
    await vi.waitFor(() => expect(app.exit).toHaveBeenCalledWith(1))
  })

  it('started as a watchdog by a build without Node mode, it is the watchdog and nothing else', async () => {
    process.argv = [
      process.execPath,
      '/app/out/main/watchdog.js',
      WATCHDOG_FLAG,
      '/data/sysproxy-journal.json'
    ]
    await import('../../../main/index.ts')
    expect(runWatchdogProcess).toHaveBeenCalledWith(process.argv, process.stdin)
    await vi.waitFor(() => expect(app.exit).toHaveBeenCalledWith(3))
    expect(app.dock.hide).toHaveBeenCalled()
    expect(app.requestSingleInstanceLock).not.toHaveBeenCalled()
    expect(app.whenReady).not.toHaveBeenCalled()
  })
})
