/**
 * The dashboard's live state in real Chromium, across a stop and a restart of headless Junction on
 * the same data directory: the link indicator and the Overview change within 2 s of the stop, the open
 * page reconnects by itself to the restarted process (same stable token, same dashboard port), a reload
 * after the restart opens the page rather than a 401, the token leaves the address bar, the view is
 * kept in the hash, and Settings shows a `--port` override as such.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serve, type Running } from '../harness/headless-process.ts'
import { freePort } from '../harness/ports.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

let running: Running | undefined
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let proxyPort: number
let page: Page

/** Headless Junction on `proxyPort` with `dataDir`, once it has printed its dashboard address. */
async function start(): Promise<string> {
  running = serve(['--port', String(proxyPort), '--data-dir', dataDir])
  await running.waitFor(new RegExp(`proxy listening on http://127\\.0\\.0\\.1:${proxyPort}`), 20_000)
  return (await running.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/, 20_000))[1]!
}

/** Milliseconds from `started` until `check` holds, polled every 25 ms; throws after `limitMs`. */
async function timeUntil(
  check: () => Promise<boolean>,
  limitMs: number,
  started = performance.now()
): Promise<number> {
  while (performance.now() - started < limitMs) {
    if (await check().catch(() => false)) return performance.now() - started
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`not within ${limitMs} ms`)
}

const linkStatus = () => page.getByTestId('link-status').getAttribute('data-status')
const engineStatus = () => page.getByTestId('engine-status').innerText()

beforeAll(async () => {
  ensureRendererBuilt()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-live-'))
  proxyPort = await freePort()
  browser = await launchChromium()
  page = await browser.context.newPage()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
})

describe('live state across a stop and a restart', () => {
  let firstUrl: string

  it('opens with the token, then drops it from the address bar and shows the link as connected', async () => {
    firstUrl = await start()
    await page.goto(firstUrl)
    await expect
      .poll(engineStatus, { timeout: 10_000 })
      .toContain(`Proxy listening on 127.0.0.1:${proxyPort}`)
    expect(await linkStatus()).toBe('connected')
    expect(page.url()).not.toContain('token=')
    expect(page.url()).toBe(`${new URL(firstUrl).origin}/`)
  })

  it('Settings shows the port set by --port for this run next to the saved one, and the view is in the hash', async () => {
    await page.getByRole('button', { name: 'Settings' }).click()
    expect(new URL(page.url()).hash).toBe('#/settings')
    await expect
      .poll(() => page.getByTestId('port-in-use').innerText(), { timeout: 10_000 })
      .toBe(`In use: ${proxyPort} (set by --port for this run; saved: 8899)`)
    expect(await page.getByTestId('port').inputValue()).toBe('8899')
    await page.getByRole('button', { name: 'Overview' }).click()
    expect(new URL(page.url()).hash).toBe('#/overview')
  })

  it('a stop shows within 2 s in the indicator and the Overview, and totals are no longer shown as live', async () => {
    await expect
      .poll(() => page.getByTestId('totals').getAttribute('data-live'), { timeout: 10_000 })
      .toBe('true')
    const stopped = performance.now()
    running!.child.kill('SIGTERM')
    const indicatorMs = await timeUntil(async () => (await linkStatus()) !== 'connected', 2000, stopped)
    const overviewMs = await timeUntil(
      async () => !(await engineStatus()).includes('Proxy listening'),
      2000,
      stopped
    )
    console.log(
      `[live-state] after SIGTERM: indicator ${indicatorMs.toFixed(0)} ms, overview ${overviewMs.toFixed(0)} ms`
    )
    expect(await running!.exited).toBe(0)
    const shown = await engineStatus()
    console.log(`[live-state] Overview after the stop: "${shown}"`)
    expect(shown).toMatch(/Proxy stopped|cannot be reached/)
    expect(await page.getByTestId('totals').getAttribute('data-live')).toBe('false')
    expect(await page.getByTestId('rates').innerText()).toContain('not live')
    // One message for the lost link, not one per view or store.
    await expect.poll(() => page.getByText('Cannot reach Junction').count(), { timeout: 5000 }).toBe(1)
  })

  it('the open page reconnects by itself to the restarted Junction, without a reload', async () => {
    const navigations: string[] = []
    page.on('framenavigated', (frame) => frame === page.mainFrame() && navigations.push(frame.url()))
    const secondUrl = await start()
    // The same token and the same dashboard address: the browser's cookie still opens it.
    expect(secondUrl).toBe(firstUrl)
    const reconnectMs = await timeUntil(async () => (await linkStatus()) === 'connected', 10_000)
    console.log(
      `[live-state] reconnected ${reconnectMs.toFixed(0)} ms after the restarted dashboard printed its address`
    )
    await expect.poll(engineStatus, { timeout: 5000 }).toContain(`Proxy listening on 127.0.0.1:${proxyPort}`)
    await expect
      .poll(() => page.getByTestId('totals').getAttribute('data-live'), { timeout: 5000 })
      .toBe('true')
    expect(await page.getByText('Cannot reach Junction').count()).toBe(0)
    expect(navigations).toEqual([])
  })

  it('a reload after the restart opens the same view, not a 401', async () => {
    await page.getByRole('button', { name: 'Settings' }).click()
    const response = await page.reload()
    expect(response?.status()).toBe(200)
    await expect
      .poll(() => page.getByRole('heading', { name: 'Settings' }).count(), { timeout: 10_000 })
      .toBe(1)
    expect(await linkStatus()).toBe('connected')
  })

  it('without the cookie, the browser gets a page that says how to open the dashboard', async () => {
    // One browser profile: take the cookie away for this page, then give it back.
    const cookies = await browser.context.cookies()
    await browser.context.clearCookies()
    const other = await browser.context.newPage()
    const response = await other.goto(new URL(firstUrl).origin)
    expect(response?.status()).toBe(401)
    expect(await other.locator('body').innerText()).toContain('npm run serve')
    await other.close()
    await browser.context.addCookies(cookies)
  })

  it('changing the token in Settings refuses the other open page and keeps this one working', async () => {
    const other = await browser.context.newPage()
    await other.goto(new URL(firstUrl).origin)
    await expect.poll(() => other.getByTestId('link-status').getAttribute('data-status')).toBe('connected')
    await page.getByTestId('rotate-token').click()
    // The open dialog's button: every ConfirmDialog on the page has one, the closed ones hidden.
    await page.getByRole('dialog').getByTestId('confirm-action').click()
    const address = await page.getByTestId('new-dashboard-address').locator('code').innerText()
    expect(address).not.toBe(firstUrl)
    expect(address.startsWith(`${new URL(firstUrl).origin}/?token=`)).toBe(true)
    expect(await page.getByTestId('toast').innerText()).toContain('Dashboard token replaced')
    await expect
      .poll(() => other.getByTestId('link-banner').innerText(), { timeout: 5000 })
      .toContain('no longer has access')
    expect(await other.getByTestId('link-status').innerText()).toContain('Access refused')
    expect(await linkStatus()).toBe('connected')
    // This page traded the new token for its cookie: a reload still opens it.
    expect((await page.reload())?.status()).toBe(200)
    await expect.poll(linkStatus, { timeout: 10_000 }).toBe('connected')
    await other.close()
  })
})
