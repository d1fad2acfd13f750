/**
 * Upstream groups built in the Profiles view (real Chromium, headless dashboard): a failover group
 * of a dead port and a real squid as the default action, traffic that fails over, each member's state
 * in the editor, and "Test all".
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { proxyGet } from '../harness/client.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { closedPort } from '../harness/ports.ts'
import { startSquid, type Upstream } from '../harness/squid.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const AUTH = { username: 'group-user', password: 'group p@ss' }
let squid: Upstream
let origin: Origin
let deadPort: number
let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string
let proxyPort: number

beforeAll(async () => {
  ensureRendererBuilt()
  ;[squid, origin, deadPort] = await Promise.all([startSquid(AUTH), startOrigin(), closedPort()])
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-groups-'))
  ;({ running, proxyPort, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
  await Promise.all([squid?.close(), origin?.close()])
})

describe('upstream groups in the Profiles view', () => {
  it('builds a failover group as the default action; traffic fails over and the editor shows why', async () => {
    const page = await browser.context.newPage()
    await page.goto(dashboardUrl)
    await page.getByRole('button', { name: 'Profiles', exact: true }).click()
    await page.getByLabel('New profile name').fill('Grouped')
    await page.getByLabel('New profile name').press('Enter')
    await page.getByRole('button', { name: 'Grouped', exact: true }).click()

    const fill = async (index: number, name: string, port: number): Promise<void> => {
      await page.getByTestId('add-upstream').click()
      const editor = page.getByTestId('upstream-editor').nth(index)
      await editor.getByLabel('Name', { exact: true }).fill(name)
      await editor.getByLabel('Host', { exact: true }).fill('127.0.0.1')
      await editor.getByLabel('Port', { exact: true }).fill(String(port))
      await editor.getByLabel('Username', { exact: true }).fill(AUTH.username)
      await editor.getByLabel('Password', { exact: true }).fill(AUTH.password)
    }
    await fill(0, 'Squid', squid.port)
    await fill(1, 'Gone', deadPort)

    // A new group takes every upstream; the dead one is moved first, so failover has work to do.
    await page.getByTestId('add-group').click()
    const group = page.getByTestId('group-editor')
    await group.getByTestId('group-name').fill('Office')
    await group.getByRole('button', { name: 'Move Gone up' }).click()
    await expect
      .poll(() => group.getByTestId('group-member').allInnerTexts())
      .toEqual([expect.stringMatching(/^Gone/), expect.stringMatching(/^Squid/)])
    await page.getByTestId('default-action-select').selectOption({ label: 'Through group Office' })
    await page.getByTestId('save-profile').click()
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain('Saved')
    await page.getByRole('button', { name: 'Set active' }).nth(1).click()
    const grouped = page.getByTestId('profile-item').filter({ hasText: 'Grouped' })
    await expect.poll(() => grouped.getByText('active', { exact: true }).count()).toBe(1)

    const res = await proxyGet(proxyPort, `${origin.url}/echo`)
    expect(res.status).toBe(200)
    expect((JSON.parse(res.body.toString()) as { headers: { via?: string } }).headers.via).toMatch(/squid/)

    // The editor polls the engine: the dead member is down, with the reason.
    const states = group.getByTestId('member-state')
    await expect
      .poll(() => states.first().innerText(), { timeout: 10_000 })
      .toMatch(/^down until .* \(1 failure\) · last error: .*"Gone".* refused the connection/)
    expect(await states.nth(1).innerText()).toBe('up')

    await page.getByTestId('test-all-url').fill(`${origin.url}/status/204`)
    await page.getByTestId('test-all').click()
    const results = page.getByTestId('test-all-result')
    await expect.poll(() => results.count(), { timeout: 15_000 }).toBe(2)
    expect(await results.nth(0).innerText()).toMatch(/^Squid: \d+ ms \(answered 204\)$/)
    expect(await results.nth(1).innerText()).toMatch(/^Gone: .*refused the connection/)
    // The measured latency shows next to the member too.
    await expect.poll(() => states.nth(1).innerText(), { timeout: 5_000 }).toMatch(/^up · latency \d+ ms$/)

    // A manual group as the default: a member picked in the editor takes the traffic at once.
    await page.getByTestId('add-group').click()
    const manual = page.getByTestId('group-editor').nth(1)
    await manual.getByTestId('group-name').fill('Pick')
    await manual.getByTestId('group-strategy').selectOption('manual')
    await page.getByTestId('default-action-select').selectOption({ label: 'Through group Pick' })
    await page.getByTestId('save-profile').click()
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain('Saved')
    expect((await proxyGet(proxyPort, `${origin.url}/echo`)).status).toBe(200)
    await page.getByTestId('group-editor').nth(1).getByRole('radio', { name: 'Gone' }).check()
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain('“Pick” now uses Gone.')
    // The user's pick is honoured even though it fails: manual groups do not fail over.
    const picked = await proxyGet(proxyPort, `${origin.url}/echo`)
    expect(picked.status).toBe(502)
    expect(picked.headers['x-junction-error']).toBe('upstream-refused')
    await page.close()
  })
})
