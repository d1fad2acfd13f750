/**
 * A chain and a shared port built in the UI (real Chromium, headless dashboard): microsocks reached
 * through squid, tested from its Test button, then shared without password; a client that sends no
 * credentials gets through the shared port, and Stop frees it.
 */
import { promises as fs } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { proxyGet } from '../harness/client.ts'
import { startCountingRelay, type CountingRelay } from '../harness/counting-relay.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { startMicrosocks } from '../harness/microsocks.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { startSquid, type Upstream } from '../harness/squid.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const AUTH = { username: 'chain-user', password: 'chain p@ss' }
let squid: Upstream
let socks: Upstream
let squidRelay: CountingRelay
let origin: Origin
let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string

beforeAll(async () => {
  ensureRendererBuilt()
  ;[squid, socks, origin] = await Promise.all([startSquid(AUTH), startMicrosocks(AUTH), startOrigin()])
  squidRelay = await startCountingRelay(squid.port)
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-chains-'))
  ;({ running, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
  await squidRelay?.close()
  await Promise.all([squid?.close(), socks?.close(), origin?.close()])
})

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1' }, () => server.close(() => resolve(true)))
  })
}

describe('chains and shared ports from the UI', () => {
  it('builds a chain, tests it, shares it without password and stops sharing', async () => {
    const page = await browser.context.newPage()
    await page.goto(dashboardUrl)
    await page.getByRole('button', { name: 'Profiles', exact: true }).click()
    await page.getByLabel('New profile name').fill('Chained')
    await page.getByLabel('New profile name').press('Enter')
    await page.getByRole('button', { name: 'Chained', exact: true }).click()

    const fill = async (index: number, name: string, scheme: string, port: number): Promise<void> => {
      await page.getByTestId('add-upstream').click()
      const editor = page.getByTestId('upstream-editor').nth(index)
      await editor.getByLabel('Name', { exact: true }).fill(name)
      await editor.getByLabel('Scheme').selectOption(scheme)
      await editor.getByLabel('Host', { exact: true }).fill('127.0.0.1')
      await editor.getByLabel('Port', { exact: true }).fill(String(port))
      await editor.getByLabel('Username', { exact: true }).fill(AUTH.username)
      await editor.getByLabel('Password', { exact: true }).fill(AUTH.password)
    }
    await fill(0, 'Squid', 'http', squidRelay.port)
    await fill(1, 'Socks', 'socks5', socks.port)
    await page.getByLabel('Reach “Socks” through').selectOption({ label: 'Squid' })
    await expect
      .poll(() => page.getByTestId('upstream-chain').innerText())
      .toBe('Junction → Squid → Socks → target')
    await page.getByTestId('save-profile').click()
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain('Saved')

    // Test through the chain: squid's relay sees the connection.
    const before = squidRelay.accepted
    await page.getByTestId('upstream-test-url').nth(1).fill(`${origin.url}/echo`)
    await page.getByTestId('upstream-test').nth(1).click()
    await expect
      .poll(() => page.getByTestId('upstream-test-result').innerText(), { timeout: 10_000 })
      .toMatch(/^Answered 200 in \d+ ms$/)
    expect(squidRelay.accepted).toBeGreaterThan(before)

    const shared = page.getByTestId('shared-ports')
    await shared.getByLabel('Upstream').selectOption({ label: 'Socks' })
    await shared.getByTestId('share-upstream').click()
    const row = shared.getByTestId('shared-port')
    await expect.poll(() => row.count()).toBe(1)
    const url = await row.locator('code').innerText()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const port = Number(new URL(url).port)

    // A client with no credentials at all goes through squid and microsocks.
    const relayed = squidRelay.accepted
    const res = await proxyGet(port, `${origin.url}/echo`)
    expect(res.status).toBe(200)
    expect(squidRelay.accepted).toBe(relayed + 1)

    await row.getByRole('button', { name: /^Copy / }).click()
    // The dashboard's origin may not allow the clipboard: then the address is offered to copy by hand.
    await expect
      .poll(
        async () =>
          (await shared.getByRole('status').count()) + (await shared.locator('input[readonly]').count())
      )
      .toBeGreaterThan(0)

    await row.getByRole('button', { name: /^Stop sharing Socks/ }).click()
    await expect.poll(() => row.count()).toBe(0)
    expect(await bindable(port)).toBe(true)
    await page.close()
  })
})
