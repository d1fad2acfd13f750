/**
 * Where Junction keeps its files. The default matches Electron's `app.getPath('userData')` for a
 * product named Junction, so the desktop app and headless mode share one configuration.
 *
 * At start the directory is checked once, so that a problem with it is said once, in one sentence,
 * instead of surfacing as one error per file.
 */
import { promises as fs } from 'node:fs'
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

export type DataDirState =
  | { usable: 'read-write' }
  /**
   * Nothing can be saved; `reason` is the system's error. `readable` is false when its files cannot
   * be read either (or it does not exist and cannot be created): then there is nothing to load.
   */
  | { usable: 'read-only'; reason: string; readable: boolean }
  /** The path is a file (or lies under one): nothing can be read or saved there. */
  | { usable: 'no'; message: string }

/**
 * Creates the data directory if needed and tries a write in it. A real write rather than
 * `access(W_OK)`: root passes every permission check, yet a read-only mount still refuses it.
 */
export async function checkDataDir(dir: string): Promise<DataDirState> {
  const notADirectory: DataDirState = {
    usable: 'no',
    message: `the data directory ${dir} is not a directory (it is a file, or lies under one): pass --data-dir with a folder, or move that file away`
  }
  try {
    await fs.mkdir(dir, { recursive: true })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST' || code === 'ENOTDIR') return notADirectory
    return { usable: 'read-only', reason: (error as Error).message, readable: false }
  }
  if (!(await fs.stat(dir)).isDirectory()) return notADirectory
  const probe = path.join(dir, `.junction-write-check-${process.pid}`)
  try {
    await fs.writeFile(probe, '')
    await fs.rm(probe, { force: true })
  } catch (error) {
    const readable = await fs.readdir(dir).then(
      () => true,
      () => false
    )
    return { usable: 'read-only', reason: (error as Error).message, readable }
  }
  return { usable: 'read-write' }
}
