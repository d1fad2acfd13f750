/**
 * The tray icon: the only module that touches Electron's Tray and Menu. What it shows comes from
 * tray-menu.ts (pure); it refreshes at most once per second, on the statistics tick, and only
 * rebuilds the menu when its content changed.
 */
import { Menu, nativeImage, Tray } from 'electron'
import path from 'node:path'
import type { AppApi } from '../../common/ipc-contract.ts'
import type { HeadlessHandle } from '../headless.ts'
import {
  bindTrayActions,
  buildTrayTemplate,
  isTemplateIcon,
  trayIconName,
  trayTooltip,
  type TrayAction,
  type TrayState
} from './tray-menu.ts'

export interface TrayOptions {
  junction: HeadlessHandle
  api: AppApi
  iconDirectory: string
  openWindow: () => void
  quit: () => void
}

function currentState(junction: HeadlessHandle): TrayState {
  const engine = junction.engine.state
  const proxy = junction.systemProxy.status()
  const snapshot = junction.stats.snapshot
  return {
    systemProxyOn: proxy.status === 'on',
    systemProxyAvailable: proxy.status !== 'unavailable',
    listen: engine.status === 'running' ? `${engine.host}:${engine.port}` : null,
    profiles: junction.profiles.list().map(({ id, name }) => ({ id, name })),
    activeProfileId: junction.engine.profile.id,
    upRate: snapshot.upRate,
    downRate: snapshot.downRate
  }
}

/** Creates the tray; returns a function that removes it. */
export function createTray(options: TrayOptions): () => void {
  const { junction, api } = options
  const tray = new Tray(nativeImage.createEmpty())
  let lastMenu = ''
  let lastIcon = ''

  const run = (action: TrayAction): void => {
    switch (action.kind) {
      case 'toggle-system-proxy': {
        const on = junction.systemProxy.status().status === 'on'
        const saved = junction.settings.get().systemProxy.mode
        void api.setSystemProxy(on ? 'off' : saved === 'off' ? 'manual' : saved).then(refresh)
        return
      }
      case 'switch-profile':
        void api.setActiveProfile(action.profileId).then(refresh)
        return
      case 'open-window':
        return options.openWindow()
      case 'quit':
        return options.quit()
    }
  }

  function refresh(): void {
    const state = currentState(junction)
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
  return () => {
    junction.stats.off('snapshot', refresh)
    junction.engine.off('state', refresh)
    tray.destroy()
  }
}
