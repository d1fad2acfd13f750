/**
 * Which system-proxy controller fits this machine: by OS, and on Linux by desktop environment
 * (XDG_CURRENT_DESKTOP, a colon-separated list such as `ubuntu:GNOME`).
 */
import { runCommand, type CommandRunner } from './command-runner.ts'
import { createMacPlatform } from './darwin.ts'
import { createGnomePlatform } from './gnome.ts'
import { createKdePlatform } from './kde.ts'
import type { PlatformId, SystemProxyPlatform } from './types.ts'
import { createWindowsPlatform } from './win32.ts'

/** Desktops that keep their proxy in the GNOME gsettings schemas. */
const GSETTINGS_DESKTOPS = ['GNOME', 'UNITY', 'CINNAMON', 'X-CINNAMON', 'BUDGIE', 'PANTHEON', 'DEEPIN']

export type Detection = { platform: SystemProxyPlatform; reason: null } | { platform: null; reason: string }

export function detectPlatform(
  os: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  run: CommandRunner = runCommand
): Detection {
  if (os === 'win32') return { platform: createWindowsPlatform(run), reason: null }
  if (os === 'darwin') return { platform: createMacPlatform(run), reason: null }
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

/** The controller that wrote a snapshot, to put it back (the watchdog knows only the journal). */
export function platformById(
  id: PlatformId,
  env: NodeJS.ProcessEnv = process.env,
  run: CommandRunner = runCommand
): SystemProxyPlatform {
  switch (id) {
    case 'windows':
      return createWindowsPlatform(run)
    case 'macos':
      return createMacPlatform(run)
    case 'gnome':
      return createGnomePlatform(run, env)
    case 'kde':
      return createKdePlatform(run, env)
  }
}
