/**
 * The tray glue with Electron mocked: icon, tooltip and menu follow the state, clicks reach the
 * service, and the menu is rebuilt only when its content changes.
 */
import { EventEmitter } from 'node:events'
import { beforeEach, describe, expect, it, vi } from 'vitest'

const built: unknown[] = []
const trays: FakeTray[] = []
class FakeTray extends EventEmitter {
  image = ''
  tooltip = ''
  menu: {
    items: { label?: string; click?: () => void; submenu?: { label?: string; click?: () => void }[] }[]
  } | null = null
  destroyed = false
  constructor() {
    super()
    trays.push(this)
  }
  setImage(image: { path: string }) {
    this.image = image.path
  }
  setToolTip(text: string) {
    this.tooltip = text
  }
  setContextMenu(menu: FakeTray['menu']) {
    this.menu = menu
  }
  destroy() {
    this.destroyed = true
  }
}
vi.mock('electron', () => ({
  Tray: FakeTray,
  Menu: {
    buildFromTemplate: (items: unknown[]) => {
      built.push(items)
      return { items }
    }
  },
  nativeImage: {
    createEmpty: () => ({ path: '' }),
    createFromPath: (p: string) => ({ path: p, setTemplateImage: vi.fn() })
  }
}))

const { createTray } = await import('../../../main/tray/tray.ts')

function fakeJunction() {
  const engine = Object.assign(new EventEmitter(), {
    state: { status: 'running', host: '127.0.0.1', port: 8899, profileId: 'direct', profileName: 'Direct' },
    profile: { id: 'direct', name: 'Direct' }
  })
  const stats = Object.assign(new EventEmitter(), { snapshot: { upRate: 0, downRate: 2048 } })
  let proxy = 'off'
  return {
    junction: {
      engine,
      stats,
      systemProxy: { status: () => ({ status: proxy, mode: 'manual', platform: 'gnome', detail: null }) },
      profiles: {
        list: () => [
          { id: 'direct', name: 'Direct' },
          { id: 'work', name: 'Work' }
        ]
      },
      settings: { get: () => ({ systemProxy: { mode: 'pac' }, desktop: { startAtLogin: false } }) }
    },
    setProxy: (s: string) => (proxy = s)
  }
}

beforeEach(() => {
  built.length = 0
  trays.length = 0
})

describe('tray', () => {
  it('shows state, turns clicks into service calls, and rebuilds the menu only on change', async () => {
    const { junction, setProxy } = fakeJunction()
    const service = {
      setSystemProxy: vi.fn().mockResolvedValue({ ok: true }),
      setActiveProfile: vi.fn().mockResolvedValue({ ok: true }),
      updateSettings: vi.fn().mockResolvedValue({ ok: true })
    }
    const openWindow = vi.fn()
    const quit = vi.fn()
    const handle = createTray({
      junction: junction as never,
      service: service as never,
      iconDirectory: '/icons',
      systemLanguages: ['en-US'],
      openWindow,
      quit
    })
    const tray = trays[0]!
    expect(tray.image).toBe(
      process.platform === 'darwin' ? '/icons/trayTemplate-off.png' : '/icons/tray-off.png'
    )
    expect(tray.tooltip).toBe('Junction — off · ↑ 0 B/s ↓ 2.0 KiB/s')
    const item = (label: string) => tray.menu!.items.find((i) => i.label === label)!
    item('System proxy').click!()
    // Off → on uses the saved mode.
    expect(service.setSystemProxy).toHaveBeenCalledWith('pac')
    item('Work').click!()
    expect(service.setActiveProfile).toHaveBeenCalledWith('work')
    item('Start at login').click!()
    expect(service.updateSettings).toHaveBeenCalledWith({ desktop: { startAtLogin: true } })
    item('Open Junction').click!()
    expect(openWindow).toHaveBeenCalled()
    item('Quit Junction').click!()
    expect(quit).toHaveBeenCalled()

    const menusBefore = built.length
    junction.stats.emit('snapshot')
    expect(built.length).toBe(menusBefore)
    setProxy('on')
    junction.stats.emit('snapshot')
    expect(built.length).toBe(menusBefore + 1)
    expect(tray.image).toMatch(/tray(Template)?-on\.png$/)
    // A change made elsewhere shows at once on refresh(), without waiting for a statistics tick.
    setProxy('off')
    handle.refresh()
    expect(built.length).toBe(menusBefore + 2)
    expect(tray.image).toMatch(/tray(Template)?-off\.png$/)
    handle.destroy()
    expect(tray.destroyed).toBe(true)
    expect(junction.stats.listenerCount('snapshot')).toBe(0)
  })

  it('lists the active profile’s manual groups and selects a member through the service', async () => {
    const { junction } = fakeJunction()
    Object.assign(junction.engine, {
      profile: {
        id: 'work',
        name: 'Work',
        upstreams: [
          { id: 'a', name: 'Squid A' },
          { id: 'b', name: 'Squid B' }
        ],
        groups: [
          { id: 'pick', name: 'Pick', strategy: 'manual', members: ['a', 'b'] },
          { id: 'auto', name: 'Auto', strategy: 'failover', members: ['a', 'b'] }
        ]
      }
    })
    const service = { selectGroupMember: vi.fn().mockResolvedValue({ ok: true }) }
    const handle = createTray({
      junction: junction as never,
      service: service as never,
      iconDirectory: '/icons',
      systemLanguages: ['en-US'],
      openWindow: vi.fn(),
      quit: vi.fn()
    })
    const items = trays[0]!.menu!.items
    // No selection yet: the first member is the one in use. Only manual groups are listed.
    const group = items.find((i) => i.label === 'Pick: Squid A')!
    expect(items.some((i) => i.label?.startsWith('Auto'))).toBe(false)
    group.submenu!.find((i) => i.label === 'Squid B')!.click!()
    expect(service.selectGroupMember).toHaveBeenCalledWith('work', 'pick', 'b')
    handle.destroy()
  })

  it('follows the language picked in the UI, and the OS languages while the pick is System', async () => {
    const { junction } = fakeJunction()
    // No language saved yet (a settings file from before it existed) means System.
    const saved: { language?: string } = {}
    junction.settings.get = () =>
      ({ systemProxy: { mode: 'pac' }, desktop: { startAtLogin: false }, ...saved }) as never
    const handle = createTray({
      junction: junction as never,
      service: {} as never,
      iconDirectory: '/icons',
      // As macOS reports a Simplified Chinese system with English second.
      systemLanguages: ['zh-Hans-CN', 'en-US'],
      openWindow: vi.fn(),
      quit: vi.fn()
    })
    const tray = trays[0]!
    const labels = () => tray.menu!.items.map((i) => i.label)
    expect(labels()).toContain('退出 Junction')
    expect(tray.tooltip).toBe('Junction — 关 · ↑ 0 B/s ↓ 2.0 KiB/s')
    // An explicit pick wins over the OS, from the next statistics tick.
    saved.language = 'en'
    junction.stats.emit('snapshot')
    expect(labels()).toContain('Quit Junction')
    expect(tray.tooltip).toBe('Junction — off · ↑ 0 B/s ↓ 2.0 KiB/s')
    saved.language = 'system'
    junction.stats.emit('snapshot')
    expect(labels()).toContain('系统代理')
    handle.destroy()
  })

  it('System on a Traditional Chinese OS shows English, as the window does', async () => {
    const { junction } = fakeJunction()
    junction.settings.get = () =>
      ({ systemProxy: { mode: 'pac' }, desktop: { startAtLogin: false }, language: 'system' }) as never
    // Linux, LANG=zh_TW.UTF-8: Electron lists the regional tag, then the bare language.
    const handle = createTray({
      junction: junction as never,
      service: {} as never,
      iconDirectory: '/icons',
      systemLanguages: ['zh-TW', 'zh'],
      openWindow: vi.fn(),
      quit: vi.fn()
    })
    expect(trays[0]!.menu!.items.map((i) => i.label)).toContain('Quit Junction')
    handle.destroy()
  })
})
