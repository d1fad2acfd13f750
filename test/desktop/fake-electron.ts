/**
 * A fake of the Electron API surface that main/index.ts and preload/index.ts use, for running the
 * desktop entry in plain Node (`vi.mock('electron', …)`). Each fake implements the listed members of
 * the real type from electron.d.ts, so a signature the code relies on cannot drift unnoticed.
 *
 * The window's "renderer" is the real preload: loading the window imports preload/index.ts, whose
 * `contextBridge` and `ipcRenderer` are the fakes below, wired to the fake `ipcMain` the way Electron
 * wires them — arguments and results are structured-cloned, and every call carries the sender frame's
 * URL that main/ipc/register.ts checks.
 */
import { EventEmitter } from 'node:events'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type {
  App,
  BrowserWindowConstructorOptions,
  ContextBridge,
  IpcMain,
  IpcMainInvokeEvent,
  IpcRenderer,
  SafeStorage,
  Settings as LoginItemSettings,
  Shell
} from 'electron'

const ROOT = path.resolve(import.meta.dirname, '../..')

type Listener = (...args: unknown[]) => void
type Handler = (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown

/** What the page sees: the objects the preload exposed with `contextBridge.exposeInMainWorld`. */
export const mainWorld: Record<string, unknown> = {}

const handlers = new Map<string, Handler>()
const rendererListeners = new Map<string, Set<Listener>>()
/** The URL of the page the preload runs in, as Electron reports it in `event.senderFrame.url`. */
let pageUrl: string | null = null

export const ipcMain: Pick<IpcMain, 'handle'> = {
  handle(channel, listener) {
    handlers.set(channel, listener as Handler)
  }
}

export const ipcRenderer: Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'> = {
  async invoke(channel, ...args) {
    const handler = handlers.get(channel)
    if (!handler) throw new Error(`Error invoking remote method '${channel}': No handler registered`)
    const event = { senderFrame: { url: pageUrl } } as unknown as IpcMainInvokeEvent
    return structuredClone(await handler(event, ...structuredClone(args)))
  },
  on(channel, listener) {
    const set = rendererListeners.get(channel) ?? new Set()
    set.add(listener as Listener)
    rendererListeners.set(channel, set)
    return ipcRenderer as IpcRenderer
  },
  removeListener(channel, listener) {
    rendererListeners.get(channel)?.delete(listener as Listener)
    return ipcRenderer as IpcRenderer
  }
}

export const contextBridge: Pick<ContextBridge, 'exposeInMainWorld'> = {
  exposeInMainWorld(key, api) {
    mainWorld[key] = api
  }
}

class FakeWebContents extends EventEmitter {
  send(channel: string, ...args: unknown[]): void {
    for (const listener of rendererListeners.get(channel) ?? []) listener({}, ...structuredClone(args))
  }
  setWindowOpenHandler(): void {}
}

export class BrowserWindow extends EventEmitter {
  static readonly created: BrowserWindow[] = []
  readonly webContents = new FakeWebContents()
  visible = false
  readonly options: BrowserWindowConstructorOptions
  constructor(options: BrowserWindowConstructorOptions) {
    super()
    this.options = options
    BrowserWindow.created.push(this)
  }
  /** Loads the page: the preload runs first (the source of the preload/index.cjs bundle), then the page is ready. */
  async loadFile(file: string): Promise<void> {
    pageUrl = pathToFileURL(file).href
    await import(path.join(ROOT, 'preload/index.ts'))
    this.emit('ready-to-show')
  }
  async loadURL(url: string): Promise<void> {
    throw new Error(`the fake window loads files only (asked for ${url})`)
  }
  show(): void {
    this.visible = true
  }
  hide(): void {
    this.visible = false
  }
  focus(): void {}
  isDestroyed(): boolean {
    return false
  }
  isMinimized(): boolean {
    return false
  }
  restore(): void {}
}

/** A menu as built from a template: its items can be read and clicked like the real tray menu. */
export interface FakeMenu {
  items: { id?: string; label?: string; checked?: boolean; click?: () => void }[]
}

export const Menu = {
  buildFromTemplate: (items: FakeMenu['items']): FakeMenu => ({ items })
}

export class Tray extends EventEmitter {
  static readonly created: Tray[] = []
  image = ''
  menu: FakeMenu | null = null
  constructor() {
    super()
    Tray.created.push(this)
  }
  setImage(image: { path: string }): void {
    this.image = image.path
  }
  setToolTip(): void {}
  setContextMenu(menu: FakeMenu): void {
    this.menu = menu
  }
  destroy(): void {}
  /** The menu item with this label (throws if there is none, naming the labels there are). */
  item(label: string): FakeMenu['items'][number] {
    const found = this.menu?.items.find((i) => i.label === label)
    if (!found)
      throw new Error(`no tray item "${label}" in ${JSON.stringify(this.menu?.items.map((i) => i.label))}`)
    return found
  }
}

export const nativeImage = {
  createEmpty: () => ({ path: '' }),
  createFromPath: (file: string) => ({ path: file, setTemplateImage: () => undefined })
}

type AppPart =
  | 'requestSingleInstanceLock'
  | 'whenReady'
  | 'getPath'
  | 'getAppPath'
  | 'setLoginItemSettings'
  | 'quit'
  | 'exit'
  | 'isPackaged'
  | 'getPreferredSystemLanguages'

/**
 * The app's lifecycle as Electron runs it: `quit()` emits a cancellable `before-quit`; if nobody
 * prevents it, `will-quit` and `quit` follow and the app is gone.
 */
class FakeApp extends EventEmitter implements Pick<App, AppPart> {
  isPackaged = false
  /** Set by the test before main/index.ts is imported. */
  userData = ''
  readonly loginItems: LoginItemSettings[] = []
  quitted = false
  exitCode: number | null = null
  /** The OS's preferred languages; a test may set them before main/index.ts is imported. */
  systemLanguages = ['en-US']
  requestSingleInstanceLock(): boolean {
    return true
  }
  whenReady(): Promise<void> {
    return Promise.resolve()
  }
  getPath(name: Parameters<App['getPath']>[0]): string {
    if (name !== 'userData') throw new Error(`the fake app knows only userData (asked for ${name})`)
    return this.userData
  }
  getAppPath(): string {
    return ROOT
  }
  getPreferredSystemLanguages(): string[] {
    return [...this.systemLanguages]
  }
  setLoginItemSettings(settings: LoginItemSettings): void {
    this.loginItems.push(settings)
  }
  quit(): void {
    if (this.quitted) return
    let prevented = false
    this.emit('before-quit', { preventDefault: () => (prevented = true) })
    if (prevented) return
    this.emit('will-quit', { preventDefault: () => undefined })
    this.quitted = true
    this.emit('quit')
  }
  exit(code = 0): void {
    this.exitCode = code
  }
}

export const app = new FakeApp()

export const safeStorage: Pick<SafeStorage, 'isEncryptionAvailable' | 'getSelectedStorageBackend'> = {
  isEncryptionAvailable: () => false,
  getSelectedStorageBackend: () => 'unknown'
}

export const session = {
  defaultSession: {
    setPermissionRequestHandler: () => undefined,
    setPermissionCheckHandler: () => undefined,
    webRequest: { onHeadersReceived: () => undefined }
  }
}

export const shell: Pick<Shell, 'openExternal'> = { openExternal: async () => undefined }

export const powerMonitor = new EventEmitter()
