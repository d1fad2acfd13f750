/**
 * Which system-proxy controller fits this machine: by OS, and on Linux by desktop environment
 * (XDG_CURRENT_DESKTOP, a colon-separated list such as `ubuntu:GNOME`).
 */
import { runCommand, type CommandRunner } from './command-runner.ts'
import { createGnomePlatform } from './gnome.ts'
import { createKdePlatform } from './kde.ts'
import type { SystemProxyPlatform } from './types.ts'

/** Desktops that keep their proxy in the GNOME gsettings schemas. */
const GSETTINGS_DESKTOPS = ['GNOME', 'UNITY', 'CINNAMON', 'X-CINNAMON', 'BUDGIE', 'PANTHEON', 'DEEPIN']

export type Detection = { platform: SystemProxyPlatform; reason: null } | { platform: null; reason: string }

export interface PlatformFactories {
  windows?: (run: CommandRunner) => SystemProxyPlatform
  macos?: (run: CommandRunner) => SystemProxyPlatform
}

export function detectPlatform(
  os: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  factories: PlatformFactories = {},
  run: CommandRunner = runCommand
): Detection {
  if (os === 'win32' && factories.windows) return { platform: factories.windows(run), reason: null }
  if (os === 'darwin' && factories.macos) return { platform: factories.macos(run), reason: null }
  if (os === 'linux') {
    const desktops = (env.XDG_CURRENT_DESKTOP ?? '').toUpperCase().split(':').filter(Boolean)
    if (desktops.includes('KDE')) return { platform: createKdePlatform(run, env), reason: null }
    if (desktops.some((d) => GSETTINGS_DESKTOPS.includes(d)))
      return { platform: createGnomePlatform(run, env), reason: null }
    const which =
      desktops.length > 0
        ? `the "${env.XDG_CURRENT_DESKTOP}" desktop`
        : 'no known desktop (XDG_CURRENT_DESKTOP is unset)'
    return {
      platform: null,
      reason: `Junction cannot set the system proxy on ${which}; use the shell commands (http_proxy, https_proxy …) or your desktop's network settings instead`
    }
  }
  return { platform: null, reason: `Junction cannot set the system proxy on ${os}` }
}
