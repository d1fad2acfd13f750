/**
 * The Inspect view in real Chromium against headless Junction: a request sent through the proxy to a
 * local origin appears in the list, and its gzip-compressed JSON response is shown decoded and
 * pretty-printed; with the store full (1,000 exchanges), scrolling the list and opening a detail each
 * finish well within a second. Screenshots of the view with a detail open go to
 * test-artifacts/screenshots/inspect-{light,dark}.png.
 */
import { promises as fs } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { proxyGet } from '../harness/client.ts'
import { ROOT, serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const USER = { user: { id: 7, name: 'Ada' }, roles: ['admin', 'dev'] }
const REQUESTS = 1000
const CONCURRENCY = 20

let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string
let proxyPort: number
let origin: http.Server
let originUrl: string

beforeAll(async () => {
  ensureRendererBuilt()
  // A tiny origin: /user.json answers gzip-compressed JSON, anything else a short text.
  origin = http.createServer((req, res) => {
    if (req.url === '/user.json') {
      const body = zlib.gzipSync(JSON.stringify(USER))
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Encoding': 'gzip',
        'Content-Length': body.length
      })
      return void res.end(body)
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`item ${req.url}\n`)
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-inspect-'))
  ;({ running, proxyPort, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
  await new Promise((resolve) => origin?.close(resolve))
})

/**
 * The little of the DOM the timings below use, typed here: this file compiles with Node's types, and
 * the functions passed to `page.evaluate` run in the page.
 */
interface InPage {
  document: {
    querySelector(selector: string): PageElement | null
    querySelectorAll(selector: string): PageElement[]
  }
  requestAnimationFrame(callback: () => void): number
}
interface PageElement {
  textContent: string | null
  scrollTop: number
  scrollHeight: number
  click(): void
  querySelectorAll(selector: string): PageElement[]
}

/** Opens the dashboard on the Inspect view, once recording is on (the view switches it on when shown). */
async function openInspect(): Promise<Page> {
  const page = await browser.context.newPage()
  await page.setViewportSize({ width: 1280, height: 800 })
  await page.goto(dashboardUrl)
  await page.getByRole('button', { name: 'Inspect', exact: true }).click()
  await page.getByRole('button', { name: 'Pause' }).waitFor({ timeout: 10_000 })
  return page
}

describe('Inspect', () => {
  it('shows a proxied request, with its gzip JSON response decoded and pretty-printed', async () => {
    const page = await openInspect()
    const res = await proxyGet(proxyPort, `${originUrl}/user.json`, {
      headers: { accept: 'application/json' }
    })
    expect([res.status, JSON.parse(zlib.gunzipSync(res.body).toString())]).toEqual([200, USER])

    const row = page.getByTestId('exchange-row').filter({ hasText: '/user.json' })
    await row.waitFor({ timeout: 10_000 })
    expect((await row.locator('td').allInnerTexts()).slice(0, 3)).toEqual([
      'GET',
      `${originUrl}/user.json`,
      '200'
    ])
    await row.focus()
    await page.keyboard.press('Enter')
    const detail = page.getByTestId('exchange-detail')
    expect(await detail.getByTestId('response-body').innerText()).toBe(JSON.stringify(USER, null, 2))
    expect(await detail.innerText()).toContain('decoded from gzip')
    expect(await detail.getByRole('table', { name: 'Request headers' }).innerText()).toMatch(
      // As forwarded: the client's spelling is kept.
      /^accept\s+application\/json$/m
    )

    const dir = path.join(ROOT, 'test-artifacts/screenshots')
    await fs.mkdir(dir, { recursive: true })
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme })
      await page.screenshot({ path: path.join(dir, `inspect-${scheme}.png`) })
    }
    await page.keyboard.press('Escape')
    await expect.poll(() => detail.count()).toBe(0)
    await page.close()
  })

  it(`stays responsive with ${REQUESTS} exchanges: scrolling and opening a detail each take under 1 s`, async () => {
    const page = await openInspect()
    let next = 0
    const sendAll = async () => {
      while (next < REQUESTS) {
        const n = next++
        const res = await proxyGet(proxyPort, `${originUrl}/item/${n}`)
        if (res.status !== 200) throw new Error(`request ${n}: ${res.status}`)
      }
    }
    const sending = Date.now()
    await Promise.all(Array.from({ length: CONCURRENCY }, sendAll))
    const sendMs = Date.now() - sending
    // The store keeps the newest 1,000: the first test's exchange has been dropped.
    await expect
      .poll(() => page.getByTestId('exchange-count').innerText(), { timeout: 10_000 })
      .toMatch(/^1,000 exchanges/)
    const rendered = await page.getByTestId('exchange-row').count()
    expect(rendered).toBeGreaterThan(5)
    expect(rendered).toBeLessThan(80)

    // Timed inside the page: from the scroll to the frame where the rows of the new window are drawn.
    const scrollMs = await page.evaluate(async () => {
      const { document, requestAnimationFrame } = globalThis as unknown as InPage
      const viewport = document.querySelector('[data-testid="exchanges-viewport"]')!
      const firstRow = () => document.querySelector('[data-testid="exchange-row"]')?.textContent
      const before = firstRow()
      const started = performance.now()
      viewport.scrollTop = viewport.scrollHeight / 2
      while (firstRow() === before)
        await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()))
      return performance.now() - started
    })
    const middle = await page.getByTestId('exchange-row').first().innerText()
    expect(middle).toMatch(/\/item\/\d+/)
    expect(middle).not.toContain(`/item/${REQUESTS - 1}`)

    const detailMs = await page.evaluate(async () => {
      const { document, requestAnimationFrame } = globalThis as unknown as InPage
      const rows = document.querySelectorAll('[data-testid="exchange-row"]')
      const row = rows[Math.floor(rows.length / 2)]!
      const url = row.querySelectorAll('td')[1]!.textContent!.trim()
      const started = performance.now()
      row.click()
      const shown = () =>
        document.querySelector('#detail-title')?.textContent?.includes(url) &&
        document.querySelector('[data-testid="response-body"]')
      while (!shown()) await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()))
      return performance.now() - started
    })
    expect(await page.getByTestId('response-body').innerText()).toMatch(/^item \/item\/\d+\n?$/)
    console.log(
      `inspect e2e: ${REQUESTS} requests at concurrency ${CONCURRENCY} in ${sendMs} ms; ` +
        `scroll to the middle drawn in ${scrollMs.toFixed(1)} ms; detail shown in ${detailMs.toFixed(1)} ms`
    )
    // Generous bounds: this checks that the view does not stall, not how fast a machine is.
    expect(scrollMs).toBeLessThan(1000)
    expect(detailMs).toBeLessThan(1000)
    await page.close()
  }, 120_000)

  it('Clear asks first, empties the list and says so in a toast', async () => {
    const page = await openInspect()
    await expect.poll(() => page.getByTestId('exchange-row').count(), { timeout: 10_000 }).toBeGreaterThan(0)
    await page.getByRole('button', { name: 'Clear…' }).click()
    await page
      .getByRole('dialog', { name: /^Clear / })
      .getByTestId('confirm-action')
      .click()
    await expect.poll(() => page.getByTestId('exchange-row').count()).toBe(0)
    expect(await page.getByTestId('toast').innerText()).toContain('Cleared the recorded exchanges.')
    await page.close()
  })
})
