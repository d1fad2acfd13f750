/**
 * The tray icon's menu, tooltip and image as plain data, so they can be tested without Electron.
 *
 * `buildTrayTemplate` returns items shaped like a subset of Electron's `MenuItemConstructorOptions`, except
 * that a clickable item carries an `action` (data) instead of a `click` function. The desktop shell turns
 * actions into handlers with `bindTrayActions` and passes the result to `Menu.buildFromTemplate`.
 */
import path from 'node:path'
import { formatRate } from '../../common/format.ts'
import type { Language } from '../../common/language.ts'

export { formatBytes, formatRate } from '../../common/format.ts'

export interface TrayProfile {
  id: string
  name: string
}

/** A manual group of the active profile: the tray lets the user pick its member, as Clash's selector. */
export interface TrayGroup {
  id: string
  name: string
  members: { id: string; name: string }[]
  /** The member traffic goes to now. */
  selected: string
}

export interface TrayState {
  systemProxyOn: boolean
  /**
   * Whether this desktop can switch the system proxy at all (a supported OS / desktop environment).
   * When false, the "System proxy" item is shown disabled with a hint.
   */
  systemProxyAvailable: boolean
  /** Address the local proxy listens on, e.g. `127.0.0.1:8899`; null while it is stopped. */
  listen: string | null
  profiles: TrayProfile[]
  activeProfileId: string
  /** Bytes per second through the proxy, client → upstream. */
  upRate: number
  /** Bytes per second through the proxy, upstream → client. */
  downRate: number
  /** The desktop setting of the same name, switchable from the menu. */
  startAtLogin: boolean
  /** The active profile's manual groups. */
  groups: TrayGroup[]
  /** The language picked in the UI, or the OS's when the pick is "System". */
  language: Language
}

export type TrayAction =
  | { kind: 'toggle-system-proxy' }
  | { kind: 'switch-profile'; profileId: string }
  | { kind: 'select-group-member'; profileId: string; groupId: string; upstreamId: string }
  | { kind: 'toggle-start-at-login' }
  | { kind: 'open-window' }
  | { kind: 'quit' }

export type TrayMenuItemType = 'normal' | 'separator' | 'checkbox' | 'radio' | 'submenu'

export interface TrayMenuItem {
  id?: string
  label?: string
  type?: TrayMenuItemType
  checked?: boolean
  enabled?: boolean
  submenu?: TrayMenuItem[]
  /** What a click does; the shell maps it to a handler. Items without an action do nothing. */
  action?: TrayAction
}

/** A `TrayMenuItem` with its action bound to a `click` handler: assignable to `MenuItemConstructorOptions`. */
export interface BoundTrayMenuItem {
  id?: string
  label?: string
  type?: TrayMenuItemType
  checked?: boolean
  enabled?: boolean
  submenu?: BoundTrayMenuItem[]
  click?: () => void
}

/**
 * The tray's few words in each language the UI offers. Main has no share in the page's catalogue
 * (renderer/src/lib/i18n/), which is built for the page; these are all the tray needs.
 */
const TRAY_TEXT = {
  en: {
    systemProxy: 'System proxy',
    systemProxyUnavailable: 'System proxy (not supported on this desktop)',
    profile: 'Profile',
    noProfiles: 'No profiles',
    stopped: 'Proxy stopped',
    listening: 'Listening on ',
    startAtLogin: 'Start at login',
    open: 'Open Junction',
    quit: 'Quit Junction',
    on: 'on',
    off: 'off',
    proxyStopped: 'proxy stopped'
  },
  'zh-CN': {
    systemProxy: '系统代理',
    systemProxyUnavailable: '系统代理（此桌面环境不支持）',
    profile: '配置',
    noProfiles: '没有配置',
    stopped: '代理已停止',
    listening: '正在监听 ',
    startAtLogin: '开机自启',
    open: '打开 Junction',
    quit: '退出 Junction',
    on: '开',
    off: '关',
    proxyStopped: '代理已停止'
  }
} as const satisfies Record<Language, Record<string, string>>

export const SYSTEM_PROXY_LABEL = TRAY_TEXT.en.systemProxy
export const SYSTEM_PROXY_UNAVAILABLE_LABEL = TRAY_TEXT.en.systemProxyUnavailable
/** Profile names longer than this are shortened with an ellipsis so the menu stays narrow. */
export const MAX_PROFILE_LABEL = 40

const separator = (): TrayMenuItem => ({ type: 'separator' })

/** The tray menu for `state`. Pure: the same state always yields an equal template. */
export function buildTrayTemplate(state: TrayState): TrayMenuItem[] {
  const text = TRAY_TEXT[state.language]
  const systemProxy: TrayMenuItem = state.systemProxyAvailable
    ? {
        id: 'system-proxy',
        label: text.systemProxy,
        type: 'checkbox',
        checked: state.systemProxyOn,
        action: { kind: 'toggle-system-proxy' }
      }
    : {
        id: 'system-proxy',
        label: text.systemProxyUnavailable,
        type: 'checkbox',
        checked: state.systemProxyOn,
        enabled: false
      }

  const profiles: TrayMenuItem[] =
    state.profiles.length > 0
      ? state.profiles.map((profile) => ({
          id: `profile:${profile.id}`,
          label: shortenLabel(profile.name, MAX_PROFILE_LABEL),
          type: 'radio',
          checked: profile.id === state.activeProfileId,
          action: { kind: 'switch-profile', profileId: profile.id }
        }))
      : [{ id: 'profile:none', label: text.noProfiles, enabled: false }]

  return [
    systemProxy,
    separator(),
    { id: 'profile-header', label: text.profile, enabled: false },
    ...profiles,
    ...groupMenus(state),
    separator(),
    {
      id: 'listen',
      label: state.listen === null ? text.stopped : `${text.listening}${state.listen}`,
      enabled: false
    },
    separator(),
    {
      id: 'start-at-login',
      label: text.startAtLogin,
      type: 'checkbox',
      checked: state.startAtLogin,
      action: { kind: 'toggle-start-at-login' }
    },
    { id: 'open-window', label: text.open, action: { kind: 'open-window' } },
    { id: 'quit', label: text.quit, action: { kind: 'quit' } }
  ]
}

/** One submenu per manual group of the active profile, titled with the member in use. */
function groupMenus(state: TrayState): TrayMenuItem[] {
  if (state.groups.length === 0) return []
  return [
    separator(),
    ...state.groups.map((group): TrayMenuItem => {
      const current = group.members.find((m) => m.id === group.selected)
      return {
        id: `group:${group.id}`,
        label: shortenLabel(`${group.name}: ${current?.name ?? '—'}`, MAX_PROFILE_LABEL),
        type: 'submenu',
        submenu: group.members.map((member) => ({
          id: `group:${group.id}:${member.id}`,
          label: shortenLabel(member.name, MAX_PROFILE_LABEL),
          type: 'radio',
          checked: member.id === group.selected,
          action: {
            kind: 'select-group-member',
            profileId: state.activeProfileId,
            groupId: group.id,
            upstreamId: member.id
          }
        }))
      }
    })
  ]
}

/**
 * Replaces every `action` with a `click` that calls `dispatch(action)`, recursively; the result can be
 * given to Electron's `Menu.buildFromTemplate`.
 */
export function bindTrayActions(
  items: readonly TrayMenuItem[],
  dispatch: (action: TrayAction) => void
): BoundTrayMenuItem[] {
  return items.map(({ action, submenu, ...rest }) => {
    const bound: BoundTrayMenuItem = { ...rest }
    if (submenu !== undefined) bound.submenu = bindTrayActions(submenu, dispatch)
    if (action !== undefined) bound.click = () => dispatch(action)
    return bound
  })
}

/**
 * Tooltip text, e.g. `Junction — on · ↑ 1.2 KiB/s ↓ 35 KiB/s`. "on"/"off" is the system proxy; the rates
 * are shown while the local proxy listens (it also serves clients configured by hand), otherwise
 * "proxy stopped". Short enough for Windows' 127-character tray tooltip limit.
 */
export function trayTooltip(state: TrayState): string {
  const text = TRAY_TEXT[state.language]
  const status = state.systemProxyOn ? text.on : text.off
  const detail =
    state.listen === null
      ? text.proxyStopped
      : `↑ ${formatRate(state.upRate)} ↓ ${formatRate(state.downRate)}`
  return `Junction — ${status} · ${detail}`
}

/**
 * File name in resources/tray for the current state. macOS gets the black-and-alpha template images, which
 * the menu bar recolours for light and dark mode; their names do not end in "Template", so the shell must
 * call `image.setTemplateImage(true)` (see `isTemplateIcon`). The `@2x` files next to them are picked up by
 * `nativeImage.createFromPath` automatically.
 */
export function trayIconName(state: TrayState, platform: NodeJS.Platform): string {
  const suffix = state.systemProxyOn ? 'on' : 'off'
  return platform === 'darwin' ? `trayTemplate-${suffix}.png` : `tray-${suffix}.png`
}

/** Whether `trayIconName` returned a macOS template image. */
export function isTemplateIcon(name: string): boolean {
  return name.startsWith('trayTemplate')
}

/**
 * Folder holding the tray icons: `<resources>/tray` in a packaged app (electron-builder copies
 * resources/tray there via extraResources), `<app root>/resources/tray` when run from the source tree.
 */
export function trayIconDirectory(where: {
  packaged: boolean
  resourcesPath: string
  appRoot: string
}): string {
  return where.packaged
    ? path.join(where.resourcesPath, 'tray')
    : path.join(where.appRoot, 'resources', 'tray')
}

function shortenLabel(text: string, max: number): string {
  const chars = [...text.trim()]
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`
}
