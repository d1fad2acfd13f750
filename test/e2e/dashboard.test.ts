/**
 * The headless dashboard in real Chromium: `node main/serve.ts` serves the built UI, which talks to
 * the engine over the WebSocket transport.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serve, type Running } from '../harness/headless-process.ts'
import { launchChromium } from './chromium.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string
let proxyPort: number

beforeAll(async () => {
  // The dashboard serves the built renderer; build it if this checkout has not yet.
  if (!existsSync(path.join(ROOT, 'out/renderer/index.html')))
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'],
      { cwd: ROOT, stdio: 'ignore' }
    )
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-'))
  running = serve(['--port', '0', '--data-dir', dataDir])
  proxyPort = Number((await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/))[1])
  dashboardUrl = (await running.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/))[1]!
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await browser?.close()
  running?.child.kill('SIGTERM')
  await running?.exited
  await fs.rm(dataDir, { recursive: true, force: true })
})

describe('dashboard in Chromium', () => {
  it('shows the live engine state through the WebSocket', async () => {
    const page = await browser.context.newPage()
    await page.goto(dashboardUrl)
    await expect
      .poll(() => page.locator('main').innerText(), { timeout: 10_000 })
      .toContain(`Proxy listening on 127.0.0.1:${proxyPort} — profile “Direct”`)
    await page.close()
  })

  it('refuses a wrong token', async () => {
    // A browser that never had the right token holds no cookie either.
    await browser.context.clearCookies()
    const page = await browser.context.newPage()
    const response = await page.goto(dashboardUrl.replace(/token=.*/, 'token=wrong'))
    expect(response?.status()).toBe(401)
    await page.close()
  })
})
