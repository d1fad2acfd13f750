/**
 * Desktop entry point: one window over the same engine and configuration headless mode uses.
 * Only window and IPC glue lives here; everything else is plain Node under main/.
 */
import { app, BrowserWindow, ipcMain, session, shell } from 'electron'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { API_EVENTS, channelFor, type AppApi } from '../common/ipc-contract.ts'
import { ok } from '../common/result.ts'
import { startHeadless, type HeadlessHandle } from './headless.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
let handle: HeadlessHandle | null = null
let window: BrowserWindow | null = null

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 720,
    show: false,
    title: 'Junction',
    webPreferences: {
      preload: path.join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true
    }
  })
  win.once('ready-to-show', () => win.show())
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-navigate', (event) => event.preventDefault())
  if (process.env.ELECTRON_RENDERER_URL) void win.loadURL(process.env.ELECTRON_RENDERER_URL)
  else void win.loadFile(path.join(here, '../renderer/index.html'))
  return win
}

const handlers: AppApi = {
  getEngineState: async () => ok(handle!.engine.state)
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', () => {
    if (window?.isMinimized()) window.restore()
    window?.focus()
  })
  app.whenReady().then(async () => {
    session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
    handle = await startHeadless({ dataDir: app.getPath('userData') })
    for (const name of Object.keys(handlers) as (keyof AppApi)[]) {
      ipcMain.handle(channelFor(name), () => handlers[name]())
    }
    window = createWindow()
    const [stateEvent] = API_EVENTS
    handle.engine.on('state', (state) => window?.webContents.send(channelFor(stateEvent), state))
  })
  app.on('window-all-closed', () => app.quit())
  app.on('before-quit', () => {
    void handle?.stop()
  })
}
