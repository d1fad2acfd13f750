/**
 * "Launch Chromium through Junction": which browser is found on each platform, and what a launch
 * really starts — a stand-in executable (a shell script) records the arguments it was given.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RuntimeParts } from '../../../main/app/parts.ts'
import { LocalAuthority } from '../../../main/intercept/authority.ts'
import { findChromium } from '../../../main/intercept/chromium-launch.ts'
import { dispatch } from '../../../main/services/dispatch.ts'
import { createJunctionService } from '../../../main/services/junction-service.ts'

const dirs: string[] = []
afterEach(async () => {
  delete process.env.JUNCTION_CHROMIUM
  await Promise.all(dirs.splice(0).map((dir) => fs.rm(dir, { recursive: true, force: true })))
})

describe('findChromium', () => {
  it('looks on PATH on Linux, in Applications on macOS and Program Files on Windows', () => {
    const found = new Set([
      '/opt/bin/google-chrome',
      '/Applications/Chromium.app/Contents/MacOS/Chromium',
      'C:\\Users\\ann\\AppData\\Local\\Google\\Chrome\\Application\\chrome.exe'
    ])
    const exists = (file: string): boolean => found.has(file)
    expect(findChromium({ PATH: '/usr/bin:/opt/bin' }, 'linux', exists)).toBe('/opt/bin/google-chrome')
    expect(findChromium({}, 'darwin', exists)).toBe('/Applications/Chromium.app/Contents/MacOS/Chromium')
    expect(findChromium({ LOCALAPPDATA: 'C:\\Users\\ann\\AppData\\Local' }, 'win32', exists)).toBe(
      'C:\\Users\\ann\\AppData\\Local\\Google\\Chrome\\Application\\chrome.exe'
    )
    expect(findChromium({ PATH: '/usr/bin' }, 'linux', () => false)).toBeNull()
    expect(findChromium({ JUNCTION_CHROMIUM: '/x/chrome' }, 'linux', exists)).toBeNull()
  })
})

describe('launchChromium through the service', () => {
  it('starts the browser with a fresh profile, the proxy and the CA’s key pinned', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-launch-'))
    dirs.push(dir)
    const record = path.join(dir, 'args.txt')
    const browser = path.join(dir, 'chromium')
    await fs.writeFile(browser, `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\n`, { mode: 0o755 })
    process.env.JUNCTION_CHROMIUM = browser
    const authority = LocalAuthority.open(path.join(dir, 'data'))
    const engine = {
      state: { status: 'running', host: '127.0.0.1', port: 18123, profileId: 'd', profileName: 'D' }
    }
    const service = createJunctionService({ authority, engine } as unknown as RuntimeParts)
    const result = await dispatch(service, 'launchChromium', [])
    expect(result.ok).toBe(true)
    let args = ''
    for (let i = 0; i < 100 && !args; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      args = await fs.readFile(record, 'utf8').catch(() => '')
    }
    const lines = args.trim().split('\n')
    expect(lines).toContain('--proxy-server=http://127.0.0.1:18123')
    expect(lines).toContain(`--ignore-certificate-errors-spki-list=${authority.spkiSha256Base64}`)
    const profile = lines
      .find((line) => line.startsWith('--user-data-dir='))!
      .slice('--user-data-dir='.length)
    expect((await fs.stat(profile)).isDirectory()).toBe(true)
    dirs.push(profile)
  })

  it('says why when the proxy is not running or no browser is found', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-launch-'))
    dirs.push(dir)
    const authority = LocalAuthority.open(dir)
    const stopped = createJunctionService({
      authority,
      engine: { state: { status: 'stopped' } }
    } as unknown as RuntimeParts)
    const notRunning = await dispatch(stopped, 'launchChromium', [])
    expect(notRunning.ok ? null : notRunning.error.message).toMatch(/Start the proxy first/)
    process.env.JUNCTION_CHROMIUM = path.join(dir, 'missing')
    const running = createJunctionService({
      authority,
      engine: { state: { status: 'running', host: '127.0.0.1', port: 1, profileId: 'd', profileName: 'D' } }
    } as unknown as RuntimeParts)
    const missing = await dispatch(running, 'launchChromium', [])
    expect(missing.ok ? null : missing.error.message).toMatch(/No Chromium or Chrome was found/)
  })
})
