/**
 * Desktop entry point: the runtime (main/app/runtime.ts, the same one headless mode runs) with a
 * window, a tray and IPC around its one service. Everything that is not Electron glue lives in
 * plain-Node modules under main/.
 */
import { app, BrowserWindow, ipcMain, powerMonitor, safeStorage, session, shell } from 'electron'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { channelFor, type AppEvents, type ApiEvent } from '../common/ipc-contract.ts'
import type { Settings } from '../common/model.ts'
import { startRuntime, type Runtime } from './app/runtime.ts'
import type { SecretCodec } from './profiles/secrets.ts'
import { forwardEvents } from './ipc/events.ts'
import { registerIpc, trustedOrigins } from './ipc/register.ts'
import { runShutdown } from './lifecycle/shutdown.ts'
import { runWatchdogProcess, WATCHDOG_FLAG } from './sysproxy/watchdog.ts'
import { electronWatchdog } from './sysproxy/watchdog-launch.ts'
import { createTray, type TrayHandle } from './tray/tray.ts'
import { trayIconDirectory } from './tray/tray-menu.ts'
import { CONTENT_SECURITY_POLICY, mainWindowOptions } from './window.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const rendererFile = path.join(here, '../renderer/index.html')
let junction: Runtime | null = null
let window: BrowserWindow | null = null
let quitting = false

function createWindow(show: boolean): BrowserWindow {
  const win = new BrowserWindow(mainWindowOptions(path.join(here, '../preload/index.cjs')))
  if (show) win.once('ready-to-show', () => win.show())
  // Close to tray: the window hides and Junction keeps routing; Quit in the tray really quits.
  win.on('close', (event) => {
    if (!quitting && junction?.settings.get().desktop.closeToTray) {
      event.preventDefault()
      win.hide()
    }
  })
  // Links to the web open in the browser; the window itself never navigates or opens others.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-navigate', (event) => event.preventDefault())
  win.webContents.on('will-attach-webview', (event) => event.preventDefault())
  if (process.env.ELECTRON_RENDERER_URL) void win.loadURL(process.env.ELECTRON_RENDERER_URL)
  else void win.loadFile(rendererFile)
  return win
}

/**
 * Upstream passwords and the local CA's private key are sealed with the OS keychain. Linux without a
 * keyring falls back to a hard-coded key ("basic_text"), which protects nothing, so that counts as
 * unavailable.
 */
function keychain(): SecretCodec | null {
  const available =
    safeStorage.isEncryptionAvailable() &&
    (process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text')
  if (!available) {
    console.log(
      '[junction] no OS keychain is available: upstream passwords (profiles.json) and the HTTPS interception CA key (ca/junction-ca.key) are stored unencrypted, readable by your user only'
    )
    return null
  }
  return {
    seal: (plain) => safeStorage.encryptString(plain).toString('base64'),
    open: (sealed) => safeStorage.decryptString(Buffer.from(sealed, 'base64'))
  }
}

/** Start at login follows the setting the moment it is saved, from the window or the tray. */
function applyDesktopSettings(settings: Settings): void {
  app.setLoginItemSettings({ openAtLogin: settings.desktop.startAtLogin })
}

async function start(): Promise<void> {
  const ses = session.defaultSession
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
  ses.setPermissionCheckHandler(() => false)
  ses.webRequest.onHeadersReceived((details, callback) =>
    callback({
      responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] }
    })
  )
  let tray: TrayHandle | null = null
  junction = await startRuntime({
    dataDir: app.getPath('userData'),
    secrets: keychain(),
    // This very binary in Node mode runs the system-proxy watchdog (out/main/watchdog.js).
    watchdog: electronWatchdog(process.execPath, path.join(here, 'watchdog.js')),
    onSettingsChanged: (settings) => {
      applyDesktopSettings(settings)
      tray?.refresh()
    }
  })
  const running = junction
  applyDesktopSettings(running.settings.get())
  registerIpc(
    ipcMain,
    running.service,
    trustedOrigins(process.env.ELECTRON_RENDERER_URL, pathToFileURL(rendererFile).href)
  )
  window = createWindow(!running.settings.get().desktop.startMinimized)
  // Windows ends the session without before-quit.
  window.on('session-end', () => void running.systemProxy.detach())
  const send = <K extends ApiEvent>(event: K, payload: AppEvents[K]) => {
    if (window && !window.isDestroyed()) window.webContents.send(channelFor(event), payload)
  }
  forwardEvents(running, send)
  tray = createTray({
    junction: running,
    service: running.service,
    iconDirectory: trayIconDirectory({
      packaged: app.isPackaged,
      resourcesPath: process.resourcesPath,
      appRoot: app.getAppPath()
    }),
    // Read once: the OS asks for a new login before a change of language applies to apps anyway.
    systemLanguages: app.getPreferredSystemLanguages(),
    openWindow: () => {
      if (!window || window.isDestroyed()) window = createWindow(true)
      window.show()
      window.focus()
    },
    quit: () => app.quit()
  })
}

if (process.argv.includes(WATCHDOG_FLAG)) {
  // Started as the system-proxy watchdog, but as Electron rather than Node (this build's runAsNode
  // fuse is off): be the watchdog here, with no window, tray or single-instance lock.
  app.dock?.hide()
  void runWatchdogProcess(process.argv, process.stdin).then((code) => app.exit(code))
} else if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', () => {
    if (!window) return
    if (window.isMinimized()) window.restore()
    window.show()
    window.focus()
  })
  app
    .whenReady()
    .then(start)
    .catch((error: Error) => {
      console.error(`[junction] could not start: ${error.message}`)
      app.exit(1)
    })
  app.on('window-all-closed', () => app.quit())
  // The OS is going down: there may be no time for before-quit, so put the proxy settings back now.
  app.whenReady().then(() => powerMonitor.on('shutdown', () => void junction?.systemProxy.detach()))
  // Restore the OS proxy and stop the engine before quitting, within 3 s whatever happens.
  app.on('before-quit', (event) => {
    if (quitting || !junction) return
    quitting = true
    event.preventDefault()
    const running = junction
    void runShutdown([
      { name: 'system proxy', run: () => running.systemProxy.detach() },
      { name: 'engine', run: () => running.stop() }
    ]).then((report) => {
      for (const f of report.failed) console.error(`[junction] shutdown: ${f.name} failed: ${f.message}`)
      app.quit()
    })
  })
  process.on('uncaughtException', (error) => {
    console.error(`[junction] unexpected error: ${error.stack ?? error.message}`)
    if (!quitting) app.quit()
  })
}
