/**
 * The headless dashboard in real Chromium: `node main/serve.ts` serves the built UI, which talks to
 * the engine over the WebSocket transport.
 */
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectTunnel, proxyGet } from '../harness/client.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { startOrigin } from '../harness/origin.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string
let proxyPort: number

beforeAll(async () => {
  ensureRendererBuilt()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-'))
  ;({ running, proxyPort, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
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

  it('shows real traffic in the totals, Activity and Connections, and closes a connection', async () => {
    const origin = await startOrigin()
    const page = await browser.context.newPage()
    try {
      await page.goto(dashboardUrl)
      for (let i = 0; i < 3; i++)
        expect((await proxyGet(proxyPort, `${origin.url}/bytes/20000`)).status).toBe(200)
      await expect
        .poll(() => page.getByTestId('totals').innerText(), { timeout: 10_000 })
        .toMatch(/↓ [1-9][\d.]* KiB/)

      await page.getByRole('button', { name: 'Activity' }).click()
      await expect
        .poll(() => page.getByTestId('log-row').count(), { timeout: 10_000 })
        .toBeGreaterThanOrEqual(3)
      expect(await page.getByTestId('log-row').first().innerText()).toContain(`127.0.0.1:${origin.port}`)
      expect(await page.getByTestId('top-hosts').innerText()).toContain('127.0.0.1')

      const tunnel = await connectTunnel(proxyPort, `127.0.0.1:${origin.port}`)
      expect(tunnel.status).toBe(200)
      const closed = new Promise((resolve) => tunnel.socket.once('close', resolve))
      await page.getByRole('button', { name: 'Connections' }).click()
      const row = page.getByTestId('connection-row').filter({ hasText: `127.0.0.1:${origin.port}` })
      await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1)
      await row.getByRole('button', { name: /Close connection/ }).click()
      await closed
      await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0)
    } finally {
      await page.close()
      await origin.close()
    }
  })

  it('every view renders in light and dark (screenshots in test-artifacts/screenshots)', async () => {
    const page = await browser.context.newPage()
    await page.setViewportSize({ width: 1180, height: 760 })
    await page.goto(dashboardUrl)
    const dir = path.join(ROOT, 'test-artifacts/screenshots')
    await fs.mkdir(dir, { recursive: true })
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme })
      for (const view of ['Overview', 'Profiles', 'Rules', 'Connections', 'Activity', 'Settings']) {
        await page.getByRole('button', { name: view, exact: true }).click()
        await expect.poll(() => page.getByRole('heading', { level: 2 }).innerText()).toBe(view)
        await page.screenshot({ path: path.join(dir, `${view.toLowerCase()}-${scheme}.png`) })
      }
    }
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.png')).length).toBeGreaterThanOrEqual(12)
    await page.close()
  })

  it('refuses LAN access without credentials, says why, and saves nothing', async () => {
    const page = await browser.context.newPage()
    await page.goto(dashboardUrl)
    await page.getByRole('button', { name: 'Settings', exact: true }).click()
    await page.getByTestId('allow-lan').check()
    await page.getByTestId('save-settings').click()
    await expect
      .poll(() => page.getByTestId('settings-error').innerText())
      .toBe('Allowing LAN connections needs a proxy username and password')
    // Keyboard only: a short password is refused by the server with the field named.
    await page.getByTestId('lan-username').fill('me')
    await page.getByTestId('lan-password').fill('short')
    await page.getByTestId('lan-password').press('Enter')
    await expect
      .poll(() => page.getByTestId('settings-error').innerText())
      .toBe('Not saved: LAN access, password: must be at least 8 characters')
    const file = path.join(dataDir, 'settings.json')
    const stored = existsSync(file)
      ? (JSON.parse(await fs.readFile(file, 'utf8')) as { listenHost: string })
      : null
    expect(stored?.listenHost ?? '127.0.0.1').toBe('127.0.0.1')
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
