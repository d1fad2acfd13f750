/**
 * The Connections view with 5,000 open tunnels: the table stays small in the DOM (virtualized),
 * scrolls through all of them, and "Close all" closes them, which the recently closed list then shows.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { promises as fs } from 'node:fs'
import type net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectTunnel } from '../harness/client.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const TUNNELS = 5000
let holder: ChildProcess
let holderPort: number
let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string
let proxyPort: number
const sockets: net.Socket[] = []

beforeAll(async () => {
  ensureRendererBuilt()
  // A target that accepts and holds connections, in its own process (file descriptors).
  holder = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer(c=>c.on('error',()=>{})).listen(0,'127.0.0.1',()=>console.log(s.address().port))"
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  )
  holderPort = await new Promise<number>((resolve) =>
    holder.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString())))
  )
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-conns-'))
  ;({ running, proxyPort, dashboardUrl } = await serveWithDashboard(dataDir))
  for (let batch = 0; batch < TUNNELS / 250; batch++)
    sockets.push(
      ...(await Promise.all(
        Array.from({ length: 250 }, async () => {
          const t = await connectTunnel(proxyPort, `127.0.0.1:${holderPort}`)
          if (t.status !== 200) throw new Error(`tunnel failed: ${t.status}`)
          return t.socket
        })
      ))
    )
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  for (const s of sockets) s.destroy()
  await closeSession({ browser, running, dataDir })
  holder?.kill()
})

describe('Connections with 5,000 open tunnels', () => {
  it('renders a window of rows, scrolls through all of them, and closes them all', async () => {
    const page = await browser.context.newPage()
    await page.setViewportSize({ width: 1180, height: 760 })
    await page.goto(dashboardUrl)
    await page.getByRole('button', { name: 'Connections', exact: true }).click()
    await expect
      .poll(() => page.getByTestId('connection-count').innerText(), { timeout: 10_000 })
      .toBe(`${TUNNELS.toLocaleString('en')} open`)
    const rendered = await page.getByTestId('connection-row').count()
    expect(rendered).toBeGreaterThan(5)
    expect(rendered).toBeLessThan(80)

    const viewport = page.getByTestId('connections-viewport')
    const firstTop = await page.getByTestId('connection-row').first().innerText()
    await viewport.evaluate((el) => (el.scrollTop = el.scrollHeight))
    await expect.poll(() => page.getByTestId('connection-row').first().innerText()).not.toBe(firstTop)
    expect(await page.getByTestId('connection-row').count()).toBeLessThan(80)

    const closed = Promise.all(
      sockets.map((s) => new Promise((resolve) => (s.destroyed ? resolve(null) : s.once('close', resolve))))
    )
    // Asked first: Escape cancels and closes nothing; confirming closes them all.
    await page.getByRole('button', { name: 'Close all' }).click()
    const confirm = page.getByRole('dialog', { name: /^Close / })
    await expect
      .poll(() => confirm.innerText())
      .toContain(`Close ${TUNNELS.toLocaleString('en')} connections?`)
    await page.keyboard.press('Escape')
    await expect.poll(() => confirm.isVisible()).toBe(false)
    expect(sockets.every((s) => !s.destroyed)).toBe(true)
    await page.getByRole('button', { name: 'Close all' }).click()
    // The open dialog's button: every ConfirmDialog on the page has one, the closed ones hidden.
    await page.getByRole('dialog').getByTestId('confirm-action').click()
    await closed
    await expect
      .poll(() => page.getByTestId('connection-count').innerText(), { timeout: 10_000 })
      .toBe('0 open')
    // The toast says how many main closed.
    expect(await page.getByTestId('toast').innerText()).toContain(
      `Closed ${TUNNELS.toLocaleString('en')} connections.`
    )
    // The table of recently closed connections says why they closed.
    const closedRows = page.getByTestId('closed-row')
    await expect.poll(() => closedRows.count(), { timeout: 10_000 }).toBe(50)
    expect(new Set(await closedRows.locator('td:last-child').allInnerTexts())).toEqual(
      new Set(['closed by user'])
    )
    await page.close()
  }, 60_000)
})
