/**
 * Where Junction keeps its files. The default matches Electron's `app.getPath('userData')` for a
 * product named Junction, so the desktop app and headless mode share one configuration.
 */
import os from 'node:os'
import path from 'node:path'

export function defaultDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir()
): string {
  switch (platform) {
    case 'win32':
      return path.win32.join(env.APPDATA ?? path.win32.join(home, 'AppData', 'Roaming'), 'Junction')
    case 'darwin':
      return path.posix.join(home, 'Library', 'Application Support', 'Junction')
    default:
      return path.posix.join(env.XDG_CONFIG_HOME || path.posix.join(home, '.config'), 'Junction')
  }
}
