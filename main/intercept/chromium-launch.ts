/**
 * "Launch Chromium through Junction": a Chromium or Chrome started with a throwaway profile, Junction
 * as its proxy, and only the local CA's key trusted for certificate errors (common/chromium-command.ts),
 * so a user can inspect HTTPS without touching the system's trust store. `JUNCTION_CHROMIUM` names the
 * executable where it is not found by itself.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromiumSwitches } from '../../common/chromium-command.ts'

/** Where Chromium-family browsers live, per platform, most specific first. */
function candidates(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): string[] {
  if (platform === 'darwin')
    return [
      '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
      '/Applications/Chromium.app/Contents/MacOS/Chromium'
    ]
  if (platform === 'win32')
    return [env.PROGRAMFILES, env['PROGRAMFILES(X86)'], env.LOCALAPPDATA]
      .filter((dir): dir is string => Boolean(dir))
      .map((dir) => path.win32.join(dir, 'Google', 'Chrome', 'Application', 'chrome.exe'))
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean)
  return ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'].flatMap((name) =>
    dirs.map((dir) => path.join(dir, name))
  )
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The browser to start: `JUNCTION_CHROMIUM`, else the first one installed; null when there is none. */
export function findChromium(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  isExecutable: (file: string) => boolean = executable
): string | null {
  if (env.JUNCTION_CHROMIUM) return isExecutable(env.JUNCTION_CHROMIUM) ? env.JUNCTION_CHROMIUM : null
  return candidates(platform, env).find(isExecutable) ?? null
}

export interface Launched {
  executable: string
  profileDir: string
}

/** Starts the browser on its own (it outlives Junction's process) and returns at once. */
export function launchChromium(executablePath: string, port: number, spkiSha256Base64: string): Launched {
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'junction-chromium-'))
  const child = spawn(
    executablePath,
    [`--user-data-dir=${profileDir}`, '--no-first-run', ...chromiumSwitches(port, spkiSha256Base64)],
    { detached: true, stdio: 'ignore' }
  )
  child.unref()
  return { executable: executablePath, profileDir }
}
