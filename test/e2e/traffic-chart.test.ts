/**
 * The Overview's traffic chart and the Connections view's live speed, in real Chromium against a
 * headless Junction carrying real downloads: the chart is full right after a load (from main's
 * per-second ring and the history file), has axes with labels and a tooltip, switches between 5 min,
 * 1 h and 24 h, shows no peak without traffic, survives a restart of Junction from the stored history,
 * and triggers no CSP violation; Connections shows a download's speed and sorts by it from the keyboard.
 */
import { promises as fs } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectTunnel, proxyGet } from '../harness/client.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

/** The little of the page's DOM these tests touch (this file is type-checked without DOM types). */
interface InPage {
  document: {
    documentElement: { dataset: Record<string, string> }
    addEventListener(
      type: 'securitypolicyviolation',
      listener: (event: {
        violatedDirective: string
        blockedURI: string
        sourceFile: string
        lineNumber: number
        sample: string
      }) => void
    ): void
  }
  console: { error(message: string): void }
}
interface InPageCanvas {
  width: number
  height: number
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray }
  }
}

const CHUNK = 16 * 1024
let origin: http.Server
let originPort: number
let running: Running | undefined
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let proxyPort: number
let dashboardUrl: string
let page: Page
/** Content-Security-Policy violations and console errors the page reported. */
const problems: string[] = []

/** A download through Junction of `seconds` (at most 20) at 50 chunks of 16 KiB per second. */
function download(seconds: number): Promise<unknown> {
  return proxyGet(proxyPort, `http://127.0.0.1:${originPort}/slow?seconds=${seconds}`, {
    timeoutMs: (seconds + 30) * 1000
  })
}

async function start(): Promise<void> {
  // Flushed every half second, so that a restart finds the traffic on disk.
  ;({ running, proxyPort, dashboardUrl } = await serveWithDashboard(dataDir, {
    ...process.env,
    JUNCTION_HISTORY_FLUSH_MS: '500'
  }))
}

async function openPage(): Promise<void> {
  page = await browser.context.newPage()
  await page.setViewportSize({ width: 1180, height: 900 })
  page.on('console', (message) => {
    const where = message.location().url
    // The dashboard has no favicon; Chromium asks for one anyway.
    if (where.endsWith('/favicon.ico')) return
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text()))
      problems.push(`${message.text()} ${where}`)
  })
  page.on('pageerror', (error) => problems.push(error.message))
  await page.addInitScript(() =>
    (globalThis as unknown as InPage).document.addEventListener('securitypolicyviolation', (event) =>
      (globalThis as unknown as InPage).console.error(
        `Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber} ${event.sample}`
      )
    )
  )
  await page.goto(dashboardUrl)
}

const chart = () => page.getByTestId('traffic-chart')
const peak = () => page.getByTestId('traffic-peak').innerText()

beforeAll(async () => {
  ensureRendererBuilt()
  origin = http.createServer((req, res) => {
    const seconds = Math.min(20, Number(new URL(req.url!, 'http://x').searchParams.get('seconds') ?? 1))
    const chunks = seconds * 50
    res.writeHead(200, { 'Content-Length': String(chunks * CHUNK) })
    let sent = 0
    const timer = setInterval(() => {
      res.write(Buffer.alloc(CHUNK, 'd'))
      if (++sent === chunks) {
        clearInterval(timer)
        res.end()
      }
    }, 20)
    res.on('close', () => clearInterval(timer))
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  originPort = (origin.address() as AddressInfo).port
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-chart-'))
  await start()
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
  origin?.closeAllConnections()
  origin?.close()
})

describe('the traffic chart', () => {
  it('is full right after the page loads: points, labelled axes, a peak and per-host/profile shares', async () => {
    await download(3)
    await openPage()
    await expect.poll(() => chart().getAttribute('data-points'), { timeout: 10_000 }).not.toBe('0')
    expect(Number(await chart().getAttribute('data-points'))).toBeGreaterThanOrEqual(3)
    // 800 KiB/s sent, measured per second on a loaded machine: a peak in KiB/s or MiB/s.
    expect(await peak()).toMatch(/^Peak ↓ \d+(\.\d)? (KiB|MiB)\/s · ↑ \d+(\.\d)? (B|KiB)\/s · per second/)
    expect(await chart().getAttribute('data-x-ticks')).toMatch(/^\d\d:\d\d:\d\d( \d\d:\d\d:\d\d)+$/)
    expect(await chart().getAttribute('data-y-ticks')).toMatch(/^0 B\/s( \d+(\.\d)? (B|KiB|MiB)\/s)+$/)
    expect(await chart().locator('canvas').count()).toBe(1)
    await expect
      .poll(() => page.getByTestId('top-hosts').innerText(), { timeout: 20_000 })
      .toContain('127.0.0.1')
    expect(await page.getByTestId('by-profile').innerText()).toContain('Direct')
  }, 60_000)

  it('shows the same points again after a reload', async () => {
    const before = await peak()
    await page.reload()
    await expect.poll(peak, { timeout: 10_000 }).toMatch(/^Peak/)
    // The same peak: the points come from main, not from what this page saw.
    expect((await peak()).split(' · per')[0]).toBe(before.split(' · per')[0])
    // Each snapshot (1 s) adds its point while the page is open.
    const points = Number(await chart().getAttribute('data-points'))
    await expect
      .poll(async () => Number(await chart().getAttribute('data-points')), { timeout: 5000 })
      .toBeGreaterThan(points)
  })

  it('shows time, up and down of the point under the mouse', async () => {
    const plot = await chart().locator('.u-over').boundingBox()
    expect(plot).not.toBeNull()
    const tooltip = page.getByTestId('chart-tooltip')
    expect(await tooltip.isHidden()).toBe(true)
    await page.mouse.move(plot!.x + plot!.width - 3, plot!.y + plot!.height / 2)
    await expect.poll(() => tooltip.isVisible()).toBe(true)
    expect(await tooltip.innerText()).toMatch(/^\d\d:\d\d:\d\d\n↑ \d.* \S*B\/s\n↓ \d.* \S*B\/s$/)
    await page.mouse.move(plot!.x - 40, plot!.y - 40)
    await expect.poll(() => tooltip.isHidden()).toBe(true)
  })

  it('switches to 1 h and 24 h of minutes from history, and back to seconds', async () => {
    await page.getByRole('button', { name: '1 h' }).click()
    expect(await page.getByRole('button', { name: '1 h' }).getAttribute('aria-pressed')).toBe('true')
    await expect.poll(() => chart().getAttribute('data-points')).toMatch(/^6[01]$/)
    expect(await page.getByRole('heading', { name: 'Traffic, last hour' }).count()).toBe(1)
    expect(await peak()).toMatch(/^Peak ↓ .* · per minute/)
    expect(await chart().getAttribute('data-x-ticks')).toMatch(/^\d\d:\d\d( \d\d:\d\d)+$/)
    await page.getByRole('button', { name: '24 h' }).click()
    await expect.poll(() => chart().getAttribute('data-points')).toMatch(/^14(40|41)$/)
    expect(await peak()).toMatch(/^Peak ↓ .* · per minute/)
    await page.getByRole('button', { name: '5 min' }).click()
    await expect.poll(peak).toMatch(/per second/)
  })

  it('draws its grid in the colours of the theme, light and dark', async () => {
    /** Pixels of the canvas in exactly this colour: grid lines are drawn one pixel wide, unblended. */
    const pixels = (rgb: [number, number, number]) =>
      chart()
        .locator('canvas')
        .evaluate((element, [r, g, b]) => {
          const canvas = element as unknown as InPageCanvas
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
          let n = 0
          for (let i = 0; i < data.length; i += 4)
            if (data[i] === r && data[i + 1] === g && data[i + 2] === b) n++
          return n
        }, rgb)
    // --border of each theme (renderer/src/styles.css): #d8dde3 light, #323840 dark.
    const light: [number, number, number] = [0xd8, 0xdd, 0xe3]
    const dark: [number, number, number] = [0x32, 0x38, 0x40]
    expect(await pixels(light)).toBeGreaterThan(200)
    expect(await pixels(dark)).toBe(0)
    await page.evaluate(
      () => ((globalThis as unknown as InPage).document.documentElement.dataset.theme = 'dark')
    )
    await expect.poll(() => pixels(dark)).toBeGreaterThan(200)
    expect(await pixels(light)).toBe(0)
    await page.evaluate(
      () => ((globalThis as unknown as InPage).document.documentElement.dataset.theme = 'light')
    )
    await expect.poll(() => pixels(light)).toBeGreaterThan(200)
  })

  it('after Junction restarts, 1 h comes back from the history file and 5 min claims no peak', async () => {
    await page.close()
    running!.child.kill('SIGTERM')
    await running!.exited
    await start()
    await openPage()
    // The per-second ring was in the old process: this one has carried nothing yet.
    await expect
      .poll(peak, { timeout: 10_000 })
      .toBe('No traffic in the last 5 minutes · per second · ↓ down ↑ up')
    await page.getByRole('button', { name: '1 h' }).click()
    await expect.poll(peak, { timeout: 10_000 }).toMatch(/^Peak ↓ \d+(\.\d)? (KiB|MiB)\/s/)
    expect(await page.getByTestId('top-hosts').innerText()).toContain('127.0.0.1')
  }, 60_000)

  it('reported no Content-Security-Policy violation or console error', () => {
    expect(problems).toEqual([])
  })
})

describe('Connections: live speed and sorting', () => {
  it('shows a download’s speed and sorts by speed with the keyboard', async () => {
    const idle = await connectTunnel(proxyPort, `127.0.0.1:${originPort}`)
    expect(idle.status).toBe(200)
    const downloading = download(8)
    try {
      await page.getByRole('button', { name: 'Connections', exact: true }).click()
      await expect
        .poll(() => page.getByTestId('connection-count').innerText(), { timeout: 10_000 })
        .toBe('2 open')
      const header = page.getByRole('columnheader', { name: /Down speed/ })
      await header.getByRole('button').focus()
      await page.keyboard.press('Enter')
      expect(await header.getAttribute('aria-sort')).toBe('descending')
      // The download first, at its speed (800 KiB/s sent; well above 50 KiB/s even on a loaded machine).
      const firstRow = page.getByTestId('connection-row').first()
      await expect
        .poll(() => firstRow.getByTestId('connection-down-rate').innerText(), { timeout: 10_000 })
        .toMatch(/^(\d{3,4} KiB|\d+(\.\d)? MiB)\/s$/)
      expect(await firstRow.locator('td').nth(2).innerText()).toBe('HTTP')
      expect(await firstRow.locator('td').nth(1).innerText()).toMatch(/^127\.0\.0\.1:\d+$/)
      // In a narrow window the table scrolls sideways, but Close stays in view.
      await page.setViewportSize({ width: 900, height: 700 })
      const table = page.getByTestId('connections-viewport')
      await expect.poll(() => table.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true)
      const shown = (await table.boundingBox())!
      const close = (await firstRow.getByRole('button', { name: /^Close connection/ }).boundingBox())!
      expect(close.x + close.width).toBeLessThanOrEqual(shown.x + shown.width)
      await page.setViewportSize({ width: 1180, height: 900 })
      await page.keyboard.press('Enter')
      expect(await header.getAttribute('aria-sort')).toBe('ascending')
      await expect.poll(() => firstRow.locator('td').nth(2).innerText()).toBe('CONNECT')
      // Its only bytes were the CONNECT reply, in its first second: 0 once that second has passed,
      // which on a loaded machine can take a few refreshes.
      await expect
        .poll(() => firstRow.getByTestId('connection-down-rate').innerText(), { timeout: 10_000 })
        .toBe('0 B/s')
    } finally {
      idle.socket.destroy()
      await downloading
    }
  }, 60_000)
})
