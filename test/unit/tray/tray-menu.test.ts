import { existsSync } from 'node:fs'
import path from 'node:path'
import type { MenuItemConstructorOptions } from 'electron'
import { describe, expect, it, vi } from 'vitest'
import {
  MAX_PROFILE_LABEL,
  bindTrayActions,
  buildTrayTemplate,
  formatBytes,
  formatRate,
  isTemplateIcon,
  trayIconDirectory,
  trayIconName,
  trayTooltip
} from '../../../main/tray/tray-menu.ts'
import type { TrayAction, TrayMenuItem, TrayState } from '../../../main/tray/tray-menu.ts'

const TRAY_DIR = path.join(import.meta.dirname, '../../../resources/tray')
const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

const base: TrayState = {
  systemProxyOn: false,
  systemProxyAvailable: true,
  listen: '127.0.0.1:8899',
  profiles: [{ id: 'direct', name: 'Direct' }],
  activeProfileId: 'direct',
  upRate: 0,
  downRate: 0,
  startAtLogin: false,
  groups: [],
  language: 'en'
}
const state = (patch: Partial<TrayState>): TrayState => ({ ...base, ...patch })

const tail: TrayMenuItem[] = [
  { type: 'separator' },
  {
    id: 'start-at-login',
    label: 'Start at login',
    type: 'checkbox',
    checked: false,
    action: { kind: 'toggle-start-at-login' }
  },
  { id: 'open-window', label: 'Open Junction', action: { kind: 'open-window' } },
  { id: 'quit', label: 'Quit Junction', action: { kind: 'quit' } }
]

describe('buildTrayTemplate', () => {
  it('system proxy off', () => {
    expect(buildTrayTemplate(base)).toEqual([
      {
        id: 'system-proxy',
        label: 'System proxy',
        type: 'checkbox',
        checked: false,
        action: { kind: 'toggle-system-proxy' }
      },
      { type: 'separator' },
      { id: 'profile-header', label: 'Profile', enabled: false },
      {
        id: 'profile:direct',
        label: 'Direct',
        type: 'radio',
        checked: true,
        action: { kind: 'switch-profile', profileId: 'direct' }
      },
      { type: 'separator' },
      { id: 'listen', label: 'Listening on 127.0.0.1:8899', enabled: false },
      ...tail
    ])
  })

  it('system proxy on', () => {
    expect(buildTrayTemplate(state({ systemProxyOn: true, listen: '127.0.0.1:9000' }))).toEqual([
      {
        id: 'system-proxy',
        label: 'System proxy',
        type: 'checkbox',
        checked: true,
        action: { kind: 'toggle-system-proxy' }
      },
      { type: 'separator' },
      { id: 'profile-header', label: 'Profile', enabled: false },
      {
        id: 'profile:direct',
        label: 'Direct',
        type: 'radio',
        checked: true,
        action: { kind: 'switch-profile', profileId: 'direct' }
      },
      { type: 'separator' },
      { id: 'listen', label: 'Listening on 127.0.0.1:9000', enabled: false },
      ...tail
    ])
  })

  it('several profiles: one radio item each, only the active one checked, in the given order', () => {
    const template = buildTrayTemplate(
      state({
        profiles: [
          { id: 'direct', name: 'Direct' },
          { id: 'p-work', name: 'Work VPN' },
          { id: 'p-home', name: 'Home (SOCKS5)' }
        ],
        activeProfileId: 'p-work'
      })
    )
    expect(template.slice(2, 6)).toEqual([
      { id: 'profile-header', label: 'Profile', enabled: false },
      {
        id: 'profile:direct',
        label: 'Direct',
        type: 'radio',
        checked: false,
        action: { kind: 'switch-profile', profileId: 'direct' }
      },
      {
        id: 'profile:p-work',
        label: 'Work VPN',
        type: 'radio',
        checked: true,
        action: { kind: 'switch-profile', profileId: 'p-work' }
      },
      {
        id: 'profile:p-home',
        label: 'Home (SOCKS5)',
        type: 'radio',
        checked: false,
        action: { kind: 'switch-profile', profileId: 'p-home' }
      }
    ])
    expect(template[6]).toEqual({ type: 'separator' })
    expect(template).toHaveLength(12)
  })

  it('system proxy unavailable: disabled, with a hint and no action', () => {
    expect(buildTrayTemplate(state({ systemProxyAvailable: false }))[0]).toEqual({
      id: 'system-proxy',
      label: 'System proxy (not supported on this desktop)',
      type: 'checkbox',
      checked: false,
      enabled: false
    })
  })

  it('start at login: a checkbox that follows the setting', () => {
    const item = buildTrayTemplate(state({ startAtLogin: true })).find((i) => i.id === 'start-at-login')
    expect(item).toMatchObject({ type: 'checkbox', checked: true, action: { kind: 'toggle-start-at-login' } })
  })

  it('proxy stopped', () => {
    const template = buildTrayTemplate(state({ listen: null }))
    expect(template.find((item) => item.id === 'listen')).toEqual({
      id: 'listen',
      label: 'Proxy stopped',
      enabled: false
    })
  })

  it('no profiles: a disabled placeholder instead of radio items', () => {
    const template = buildTrayTemplate(state({ profiles: [], activeProfileId: '' }))
    expect(template.slice(2, 5)).toEqual([
      { id: 'profile-header', label: 'Profile', enabled: false },
      { id: 'profile:none', label: 'No profiles', enabled: false },
      { type: 'separator' }
    ])
  })

  it('shortens long profile names', () => {
    const name = 'A very long profile name that goes on and on and on'
    const [, , , item] = buildTrayTemplate(state({ profiles: [{ id: 'x', name }], activeProfileId: 'x' }))
    expect(item?.label).toBe(`${name.slice(0, MAX_PROFILE_LABEL - 1)}…`)
    expect([...(item?.label ?? '')]).toHaveLength(MAX_PROFILE_LABEL)
  })

  it('returns fresh objects each time', () => {
    const a = buildTrayTemplate(base)
    const b = buildTrayTemplate(base)
    expect(a).toEqual(b)
    expect(a[1]).not.toBe(b[1])
    expect(a[1]).not.toBe(a[4])
  })
})

describe('bindTrayActions', () => {
  it('turns actions into click handlers and keeps everything else', () => {
    const dispatch = vi.fn<(action: TrayAction) => void>()
    const bound = bindTrayActions(
      buildTrayTemplate(
        state({
          profiles: [
            { id: 'direct', name: 'Direct' },
            { id: 'w', name: 'Work' }
          ]
        })
      ),
      dispatch
    )
    // The bound template is what Menu.buildFromTemplate accepts.
    const options: MenuItemConstructorOptions[] = bound
    expect(options.every((item) => !('action' in item))).toBe(true)

    for (const item of bound) item.click?.()
    expect(dispatch.mock.calls.map(([action]) => action)).toEqual([
      { kind: 'toggle-system-proxy' },
      { kind: 'switch-profile', profileId: 'direct' },
      { kind: 'switch-profile', profileId: 'w' },
      { kind: 'toggle-start-at-login' },
      { kind: 'open-window' },
      { kind: 'quit' }
    ])
    expect(bound.find((item) => item.id === 'listen')).toEqual({
      id: 'listen',
      label: 'Listening on 127.0.0.1:8899',
      enabled: false
    })
    expect(bound.find((item) => item.id === 'listen')?.click).toBeUndefined()
  })

  it('binds submenus recursively', () => {
    const dispatch = vi.fn<(action: TrayAction) => void>()
    const [item] = bindTrayActions(
      [{ label: 'More', type: 'submenu', submenu: [{ label: 'Quit', action: { kind: 'quit' } }] }],
      dispatch
    )
    item?.submenu?.[0]?.click?.()
    expect(dispatch).toHaveBeenCalledWith({ kind: 'quit' })
  })
})

describe('trayTooltip', () => {
  it('on, with rates', () => {
    expect(trayTooltip(state({ systemProxyOn: true, upRate: 1229, downRate: 35 * KiB }))).toBe(
      'Junction — on · ↑ 1.2 KiB/s ↓ 35 KiB/s'
    )
  })

  it('off, idle', () => {
    expect(trayTooltip(base)).toBe('Junction — off · ↑ 0 B/s ↓ 0 B/s')
  })

  it('off, with traffic from clients configured by hand', () => {
    expect(trayTooltip(state({ upRate: 512, downRate: 1.5 * MiB }))).toBe(
      'Junction — off · ↑ 512 B/s ↓ 1.5 MiB/s'
    )
  })

  it('start at login: a checkbox that follows the setting', () => {
    const item = buildTrayTemplate(state({ startAtLogin: true })).find((i) => i.id === 'start-at-login')
    expect(item).toMatchObject({ type: 'checkbox', checked: true, action: { kind: 'toggle-start-at-login' } })
  })

  it('proxy stopped', () => {
    expect(trayTooltip(state({ listen: null, upRate: 99, downRate: 99 }))).toBe(
      'Junction — off · proxy stopped'
    )
  })

  it('stays within the Windows tooltip limit', () => {
    const tooltip = trayTooltip(state({ systemProxyOn: true, upRate: 1023 * GiB, downRate: 1023 * GiB }))
    expect(tooltip.length).toBeLessThan(128)
  })
})

describe('tray icons', () => {
  it.each([
    ['darwin', false, 'trayTemplate-off.png'],
    ['darwin', true, 'trayTemplate-on.png'],
    ['win32', false, 'tray-off.png'],
    ['win32', true, 'tray-on.png'],
    ['linux', false, 'tray-off.png'],
    ['linux', true, 'tray-on.png']
  ] as const)('%s, system proxy on=%s → %s', (platform, on, name) => {
    expect(trayIconName(state({ systemProxyOn: on }), platform)).toBe(name)
    expect(isTemplateIcon(name)).toBe(platform === 'darwin')
    expect(existsSync(path.join(TRAY_DIR, name))).toBe(true)
    expect(existsSync(path.join(TRAY_DIR, name.replace('.png', '@2x.png')))).toBe(true)
  })

  it('icon folder, packaged and from the source tree', () => {
    expect(
      trayIconDirectory({ packaged: true, resourcesPath: '/opt/Junction/resources', appRoot: '/x' })
    ).toBe(path.join('/opt/Junction/resources', 'tray'))
    expect(trayIconDirectory({ packaged: false, resourcesPath: '/x', appRoot: '/src/junction' })).toBe(
      path.join('/src/junction', 'resources', 'tray')
    )
  })
})

describe('formatBytes / formatRate', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1023.4, '1023 B'],
    [1023.6, '1.0 KiB'],
    [1024, '1.0 KiB'],
    [1229, '1.2 KiB'],
    [1536, '1.5 KiB'],
    [10 * KiB - 1, '10 KiB'],
    [35 * KiB, '35 KiB'],
    [MiB - 1, '1.0 MiB'],
    [MiB, '1.0 MiB'],
    [1.5 * MiB, '1.5 MiB'],
    [999 * MiB, '999 MiB'],
    [GiB, '1.0 GiB'],
    [2.25 * GiB, '2.3 GiB'],
    [512 * GiB, '512 GiB'],
    [1024 * GiB, '1.0 TiB'],
    [2048 * 1024 * 1024 * GiB, '2048 PiB']
  ])('%d bytes → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text)
  })

  it.each([-1, -Infinity, Infinity, Number.NaN])('%d counts as 0', (bytes) => {
    expect(formatBytes(bytes)).toBe('0 B')
  })

  it('rates are per second', () => {
    expect(formatRate(0)).toBe('0 B/s')
    expect(formatRate(1023)).toBe('1023 B/s')
    expect(formatRate(1024)).toBe('1.0 KiB/s')
    expect(formatRate(1.5 * MiB)).toBe('1.5 MiB/s')
    expect(formatRate(3 * GiB)).toBe('3.0 GiB/s')
  })
})

describe('manual groups', () => {
  const withGroups = state({
    profiles: [
      { id: 'direct', name: 'Direct' },
      { id: 'work', name: 'Work' }
    ],
    activeProfileId: 'work',
    groups: [
      {
        id: 'exit',
        name: 'Exit',
        members: [
          { id: 'us', name: 'US squid' },
          { id: 'eu', name: 'EU squid' }
        ],
        selected: 'eu'
      }
    ]
  })

  it('adds a submenu per manual group, titled with the member in use, after the profiles', () => {
    const menu = buildTrayTemplate(withGroups)
    const at = menu.findIndex((i) => i.id === 'group:exit')
    expect(menu[at - 1]).toEqual({ type: 'separator' })
    expect(menu[at - 2]!.id).toBe('profile:work')
    expect(menu[at]).toEqual({
      id: 'group:exit',
      label: 'Exit: EU squid',
      type: 'submenu',
      submenu: [
        {
          id: 'group:exit:us',
          label: 'US squid',
          type: 'radio',
          checked: false,
          action: { kind: 'select-group-member', profileId: 'work', groupId: 'exit', upstreamId: 'us' }
        },
        {
          id: 'group:exit:eu',
          label: 'EU squid',
          type: 'radio',
          checked: true,
          action: { kind: 'select-group-member', profileId: 'work', groupId: 'exit', upstreamId: 'eu' }
        }
      ]
    })
  })

  it('shows nothing for a profile without manual groups', () => {
    expect(buildTrayTemplate(base).some((i) => i.id?.startsWith('group:'))).toBe(false)
  })

  it('binds the submenu items to clicks', () => {
    const dispatch = vi.fn<(action: TrayAction) => void>()
    const bound = bindTrayActions(buildTrayTemplate(withGroups), dispatch)
    bound.find((i) => i.id === 'group:exit')!.submenu![0]!.click!()
    expect(dispatch).toHaveBeenCalledWith({
      kind: 'select-group-member',
      profileId: 'work',
      groupId: 'exit',
      upstreamId: 'us'
    })
  })
})

describe('Simplified Chinese', () => {
  const full = state({
    systemProxyOn: true,
    profiles: [
      { id: 'direct', name: 'Direct' },
      { id: 'work', name: 'Work' }
    ],
    groups: [{ id: 'pick', name: 'Pick', members: [{ id: 'a', name: 'Squid' }], selected: 'a' }]
  })
  /** Every label of a menu, submenus included. */
  const labels = (items: TrayMenuItem[]): string[] =>
    items.flatMap((i) => [...(i.label === undefined ? [] : [i.label]), ...labels(i.submenu ?? [])])
  /** The user's names, which stay as they are in any language. */
  const names = new Set(['Direct', 'Work', 'Pick: Squid', 'Squid'])

  it('the same items, actions and names, with every word of Junction’s own in Chinese', () => {
    const en = buildTrayTemplate(full)
    const zh = buildTrayTemplate({ ...full, language: 'zh-CN' })
    const shape = (items: TrayMenuItem[]) =>
      JSON.stringify(items, (key, value) => (key === 'label' ? undefined : value))
    expect(shape(zh)).toBe(shape(en))
    const own = labels(zh).filter((label) => !names.has(label))
    expect(own.length).toBeGreaterThan(5)
    // No English word left: only Junction, the address and CJK text.
    expect(own.filter((label) => /[A-Za-z]{2,}/.test(label.replace(/Junction/g, '')))).toEqual([])
    expect(labels(zh)).toContain('正在监听 127.0.0.1:8899')
  })

  it('while stopped, without system proxy support, and without profiles', () => {
    const zh = buildTrayTemplate(
      state({ language: 'zh-CN', listen: null, systemProxyAvailable: false, profiles: [] })
    )
    expect(labels(zh)).toEqual(
      expect.arrayContaining(['系统代理（此桌面环境不支持）', '代理已停止', '没有配置'])
    )
    expect(trayTooltip(state({ language: 'zh-CN', listen: null }))).toBe('Junction — 关 · 代理已停止')
  })
})
