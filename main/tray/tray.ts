/**
 * The tray icon: the only module that touches Electron's Tray and Menu. What it shows comes from
 * tray-menu.ts (pure); it refreshes at most once per second, on the statistics tick, and only
 * rebuilds the menu when its content changed.
 */
import { Menu, nativeImage, Tray } from 'electron'
import path from 'node:path'
import type { AppApi } from '../../common/ipc-contract.ts'
import { shownLanguage } from '../../common/language.ts'
import type { RuntimeParts } from '../app/parts.ts'
import {
  bindTrayActions,
  buildTrayTemplate,
  isTemplateIcon,
  trayIconName,
  trayTooltip,
  type TrayAction,
  type TrayState
} from './tray-menu.ts'

/** What the tray reads; it changes things only through `service`. */
export type TraySource = Pick<RuntimeParts, 'engine' | 'stats' | 'systemProxy' | 'profiles' | 'settings'>

export interface TrayOptions {
  junction: TraySource
  /** The runtime's service: the same object the window and the dashboard call. */
  service: AppApi
  iconDirectory: string
  /**
   * The OS's preferred languages, most preferred first (Electron's `app.getPreferredSystemLanguages()`),
   * shown in when Settings → Language is "System".
   */
  systemLanguages: readonly string[]
  openWindow: () => void
  quit: () => void
}

export interface TrayHandle {
  /** Re-reads the state now (after a change made elsewhere) instead of on the next statistics tick. */
  refresh(): void
  destroy(): void
}

function currentState(junction: TraySource, systemLanguages: readonly string[]): TrayState {
  const engine = junction.engine.state
  const profile = junction.engine.profile
  const proxy = junction.systemProxy.status()
  const snapshot = junction.stats.snapshot
  return {
    systemProxyOn: proxy.status === 'on',
    systemProxyAvailable: proxy.status !== 'unavailable',
    listen: engine.status === 'running' ? `${engine.host}:${engine.port}` : null,
    profiles: junction.profiles.list().map(({ id, name }) => ({ id, name })),
    activeProfileId: profile.id,
    upRate: snapshot.upRate,
    downRate: snapshot.downRate,
    startAtLogin: junction.settings.get().desktop.startAtLogin,
    language: shownLanguage(junction.settings.get().language, systemLanguages),
    groups: (profile.groups ?? [])
      .filter((g) => g.strategy === 'manual')
      .map((g) => ({
        id: g.id,
        name: g.name,
        members: g.members.map((id) => ({
          id,
          name: profile.upstreams.find((u) => u.id === id)?.name ?? id
        })),
        selected: g.members.includes(g.selected ?? '') ? g.selected! : g.members[0]!
      }))
  }
}

export function createTray(options: TrayOptions): TrayHandle {
  const { junction, service } = options
  const tray = new Tray(nativeImage.createEmpty())
  let lastMenu = ''
  let lastIcon = ''

  const run = (action: TrayAction): void => {
    switch (action.kind) {
      case 'toggle-system-proxy': {
        const on = junction.systemProxy.status().status === 'on'
        const saved = junction.settings.get().systemProxy.mode
        void service.setSystemProxy(on ? 'off' : saved === 'off' ? 'manual' : saved).then(refresh)
        return
      }
      case 'switch-profile':
        void service.setActiveProfile(action.profileId).then(refresh)
        return
      case 'select-group-member':
        void service.selectGroupMember(action.profileId, action.groupId, action.upstreamId).then(refresh)
        return
      case 'toggle-start-at-login': {
        const desktop = junction.settings.get().desktop
        void service
          .updateSettings({ desktop: { ...desktop, startAtLogin: !desktop.startAtLogin } })
          .then(refresh)
        return
      }
      case 'open-window':
        return options.openWindow()
      case 'quit':
        return options.quit()
    }
  }

  function refresh(): void {
    const state = currentState(junction, options.systemLanguages)
    const icon = trayIconName(state, process.platform)
    if (icon !== lastIcon) {
      const image = nativeImage.createFromPath(path.join(options.iconDirectory, icon))
      if (isTemplateIcon(icon)) image.setTemplateImage(true)
      tray.setImage(image)
      lastIcon = icon
    }
    tray.setToolTip(trayTooltip(state))
    const template = buildTrayTemplate(state)
    const serialized = JSON.stringify(template)
    if (serialized !== lastMenu) {
      tray.setContextMenu(Menu.buildFromTemplate(bindTrayActions(template, run)))
      lastMenu = serialized
    }
  }

  refresh()
  junction.stats.on('snapshot', refresh)
  junction.engine.on('state', refresh)
  tray.on('click', options.openWindow)
  return {
    refresh,
    destroy() {
      junction.stats.off('snapshot', refresh)
      junction.engine.off('state', refresh)
      tray.destroy()
    }
  }
}
