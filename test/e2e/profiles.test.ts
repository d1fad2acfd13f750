/**
 * Profiles and rules built in the UI (real Chromium, headless dashboard), then real traffic through
 * the proxy follows them: a block rule and a route through a real squid.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { proxyGet } from '../harness/client.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { startSquid, type Upstream } from '../harness/squid.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const AUTH = { username: 'ui-user', password: 'ui p@ss:%' }
let squid: Upstream
let origin: Origin
let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string
let proxyPort: number

beforeAll(async () => {
  ensureRendererBuilt()
  ;[squid, origin] = await Promise.all([startSquid(AUTH), startOrigin()])
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-profiles-'))
  ;({ running, proxyPort, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
  await Promise.all([squid?.close(), origin?.close()])
})

describe('profiles and rules from the UI', () => {
  it('creates a profile with an upstream and rules, activates it, and traffic follows', async () => {
    const page = await browser.context.newPage()
    await page.goto(dashboardUrl)

    // The first steps by keyboard only: focus, type, Enter.
    await page.getByRole('button', { name: 'Profiles', exact: true }).press('Enter')
    await page.getByLabel('New profile name').fill('Work')
    await page.getByLabel('New profile name').press('Enter')
    await page.getByRole('button', { name: 'Work', exact: true }).press('Enter')
    await page.getByTestId('add-upstream').press('Enter')
    const upstream = page.getByTestId('upstream-editor')
    await upstream.getByLabel('Name', { exact: true }).fill('Squid')
    await upstream.getByLabel('Host', { exact: true }).fill('127.0.0.1')
    await upstream.getByLabel('Port', { exact: true }).fill(String(squid.port))
    await upstream.getByLabel('Username', { exact: true }).fill(AUTH.username)
    await upstream.getByLabel('Password', { exact: true }).fill(AUTH.password)
    await page.getByTestId('save-profile').click()
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain('Saved')
    // Test sends one real request through squid, with the saved password.
    await page.getByTestId('upstream-test-url').fill(`${origin.url}/echo`)
    await page.getByTestId('upstream-test').click()
    await expect
      .poll(() => page.getByTestId('upstream-test-result').innerText(), { timeout: 10_000 })
      .toMatch(/^Answered 200 in \d+ ms$/)
    await upstream.getByLabel('Password', { exact: true }).fill('wrong password')
    await page.getByTestId('upstream-test').click()
    await expect
      .poll(() => page.getByTestId('upstream-test-result').innerText(), { timeout: 10_000 })
      .toMatch(/rejected Junction's username or password/)
    await upstream.getByLabel('Password', { exact: true }).fill(AUTH.password)
    // The password typed again is a change like any other: leaving asks, and Discard keeps the saved one.
    await page.getByRole('button', { name: 'Rules', exact: true }).click()
    await page.getByRole('dialog', { name: 'Discard unsaved changes?' }).getByTestId('confirm-action').click()
    // The rule form opens in a panel beside the list.
    await page.getByTestId('new-rule').click()
    const form = page.getByTestId('add-rule')
    // An invalid regex is refused before anything is saved.
    await form.getByTestId('matcher-type').selectOption('regex')
    await form.getByTestId('matcher-value').fill('(unclosed')
    await form.getByTestId('save-rule').click()
    await expect.poll(() => page.getByText(/not a usable regular expression/).count()).toBeGreaterThan(0)
    expect(await page.getByTestId('rule-item').count()).toBe(0)

    await form.getByTestId('rule-name-input').fill('No ads')
    await form.getByTestId('matcher-type').selectOption('domain')
    await form.getByTestId('matcher-value').fill('ads.test')
    await form.getByTestId('action-type').selectOption('block')
    await form.getByTestId('block-status').fill('403')
    await form.getByTestId('block-body').fill('first draft')
    await form.getByTestId('save-rule').click()
    await expect.poll(() => page.getByTestId('rule-item').count()).toBe(1)
    // Editing an existing rule replaces it in place.
    await page.getByRole('button', { name: 'Edit No ads' }).click()
    await form.getByTestId('block-body').fill('no ads here')
    await form.getByRole('button', { name: 'Save rule' }).click()
    await expect.poll(() => page.getByTestId('toast').filter({ hasText: 'Saved rule' }).count()).toBe(1)
    expect(await page.getByTestId('rule-item').count()).toBe(1)

    await page.getByTestId('new-rule').click()
    await form.getByTestId('rule-name-input').fill('Local via squid')
    await form.getByTestId('matcher-type').selectOption('ip')
    await form.getByTestId('matcher-value').fill('127.0.0.1')
    await form.getByTestId('action-type').selectOption('upstream')
    await form.getByTestId('save-rule').click()
    await expect.poll(() => page.getByTestId('rule-item').count()).toBe(2)

    await page.getByTestId('explain-input').fill('http://x.ads.test/')
    await page.getByTestId('explain-button').click()
    await expect
      .poll(() => page.getByTestId('explain-result').innerText())
      .toMatch(/"No ads".*block with 403/)

    await page.getByRole('button', { name: 'Overview', exact: true }).click()
    await page.getByLabel('Active profile').selectOption({ label: 'Work' })
    await expect.poll(() => page.getByTestId('engine-status').innerText()).toContain('profile “Work”')

    const blocked = await proxyGet(proxyPort, 'http://x.ads.test/')
    expect(blocked.status).toBe(403)
    expect(blocked.body.toString()).toBe('no ads here')
    const routed = await proxyGet(proxyPort, `${origin.url}/echo`)
    expect(routed.status).toBe(200)
    expect((JSON.parse(routed.body.toString()) as { headers: { via?: string } }).headers.via).toMatch(/squid/)

    await page.getByRole('button', { name: 'Activity', exact: true }).click()
    await expect
      .poll(() => page.getByTestId('log-row').filter({ hasText: 'x.ads.test' }).count(), { timeout: 10_000 })
      .toBe(1)
    await page.close()
  })
})
