/**
 * How the dashboard looks and answers the keyboard, in real Chromium against headless Junction:
 * every view has no serious or critical axe-core violation (WCAG 2 A/AA, contrast included) in the
 * light and the dark theme, none scrolls sideways at 800×600, the shortcuts work and are listed, and
 * Settings shows only what applies to the dashboard and checks the bypass list while typing.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const VIEWS = ['Overview', 'Profiles', 'Rules', 'Connections', 'Activity', 'Inspect', 'Settings']

let running: Running | undefined
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let page: Page
let origin: Origin
/** Keeps a connection open through the proxy, so Connections has a row to lay out. */
const keepAlive = new http.Agent({ keepAlive: true })

beforeAll(async () => {
  ensureRendererBuilt()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-look-'))
  const started = await serveWithDashboard(dataDir)
  running = started.running
  const url = started.dashboardUrl
  // Rows in Connections and Activity: a request on a connection that stays open, and one more.
  origin = await startOrigin()
  for (let i = 0; i < 2; i++)
    await new Promise<void>((resolve, reject) =>
      http
        .get(
          { host: '127.0.0.1', port: started.proxyPort, path: `${origin.url}/look-${i}`, agent: keepAlive },
          (res) => res.resume().once('end', resolve)
        )
        .once('error', reject)
    )
  browser = await launchChromium()
  page = await browser.context.newPage()
  await page.goto(url)
  await page.getByTestId('engine-status').filter({ hasText: 'listening' }).waitFor({ timeout: 10_000 })
}, 120_000)
afterAll(async () => {
  keepAlive.destroy()
  await origin?.close()
  await closeSession({ browser, running, dataDir })
})

/** The little of the DOM read below: this file compiles with Node's types, `page.evaluate` runs in the page. */
interface InPage {
  document: {
    documentElement: { scrollWidth: number; clientWidth: number; dataset: Record<string, string | undefined> }
    activeElement: { type?: string } | null
  }
}

async function open(view: string): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Views' })
    .getByRole('button', { name: view, exact: true })
    .click()
  await page.waitForTimeout(300)
}

describe('accessibility', () => {
  for (const scheme of ['light', 'dark'] as const)
    it(`no serious or critical axe violations in any view, ${scheme} theme`, async () => {
      await page.emulateMedia({ colorScheme: scheme })
      const found: string[] = []
      for (const view of VIEWS) {
        await open(view)
        expect(
          await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.dataset.theme)
        ).toBe(scheme)
        const { violations } = await new AxeBuilder({ page })
          .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
          .analyze()
        for (const v of violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'))
          found.push(`${view}: ${v.id} (${v.impact}) — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
      }
      expect(found).toEqual([])
    }, 120_000)
})

describe('layout', () => {
  it('no view scrolls sideways at 800×600, and the sidebar stays in view', async () => {
    await page.setViewportSize({ width: 800, height: 600 })
    const wide: string[] = []
    for (const view of VIEWS) {
      await open(view)
      const { scrollWidth, clientWidth } = await page.evaluate(() => {
        const root = (globalThis as unknown as InPage).document.documentElement
        return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth }
      })
      if (scrollWidth > clientWidth) wide.push(`${view}: ${scrollWidth} > ${clientWidth}`)
    }
    expect(wide).toEqual([])
    await open('Settings')
    await page.mouse.wheel(0, 5000)
    const nav = await page.getByRole('navigation', { name: 'Views' }).boundingBox()
    expect(nav?.y).toBeCloseTo(0, 0)
    await page.setViewportSize({ width: 1280, height: 800 })
  }, 60_000)
})

describe('keyboard', () => {
  it('? lists the shortcuts and Escape closes the list', async () => {
    await open('Overview')
    await page.keyboard.press('?')
    const dialog = page.getByTestId('shortcuts')
    await expect.poll(() => dialog.isVisible()).toBe(true)
    expect(await dialog.innerText()).toContain('Turn the system proxy on or off')
    await page.keyboard.press('Escape')
    await expect.poll(() => dialog.isVisible()).toBe(false)
  })

  it("Alt+digit switches views and / focuses the view's search field", async () => {
    await open('Overview')
    await page.keyboard.press('Alt+4')
    await expect.poll(() => new URL(page.url()).hash).toBe('#/connections')
    await page.keyboard.press('/')
    expect(await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.type)).toBe(
      'search'
    )
    // Typing in the field is typing, not a shortcut.
    await page.keyboard.type('/?')
    expect(await page.getByTestId('shortcuts').isVisible()).toBe(false)
    await page.keyboard.press('Alt+7')
    await expect.poll(() => new URL(page.url()).hash).toBe('#/settings')
  })
})

describe('Settings in the dashboard', () => {
  it('hides desktop-only settings and checks the bypass list as it is typed', async () => {
    await open('Settings')
    await expect.poll(() => page.getByTestId('save-settings').isVisible(), { timeout: 10_000 }).toBe(true)
    expect(await page.getByText('Start at login').count()).toBe(0)
    expect(await page.getByTestId('theme').isVisible()).toBe(true)
    await page.getByTestId('bypass').fill('intranet\nbad host name\n300.1.1.1/99')
    const errors = page.getByTestId('bypass-errors')
    expect(await errors.innerText()).toContain('"bad host name" has a space')
    expect(await errors.innerText()).toContain('"300.1.1.1/99" is not a CIDR block')
    await page.getByTestId('save-settings').click()
    expect(await page.getByTestId('settings-error').innerText()).toMatch(/^Bypass list: "bad host name"/)
    await page.getByTestId('bypass').fill('intranet\n*.corp.example\n10.0.0.0/8')
    expect(await errors.count()).toBe(0)
    // Back to what is saved, so the next test starts from a form without changes.
    await page.getByTestId('bypass').fill('')
  })

  it('asks before leaving with unsaved changes; Cancel stays, Discard leaves', async () => {
    // Every step has its own limit, so a slow machine fails at the step, not at the test's end.
    const step = { timeout: 10_000 }
    const hash = () => new URL(page.url()).hash
    await open('Settings')
    await expect.poll(() => page.getByTestId('save-settings').isVisible(), step).toBe(true)
    // Saved settings: leaving is not asked.
    await page.getByTestId('bypass').fill('', step)
    await page.getByTestId('save-settings').click(step)
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Saved' }).count(), step).toBe(1)
    await open('Overview')
    await expect.poll(hash, step).toBe('#/overview')
    await open('Settings')
    await page.getByTestId('bypass').fill('intranet', step)
    await open('Overview')
    const confirm = page.getByRole('dialog', { name: 'Discard unsaved changes?' })
    await expect.poll(() => confirm.innerText(), step).toContain('Settings has changes that are not saved')
    await confirm.getByRole('button', { name: 'Cancel' }).click(step)
    expect(hash()).toBe('#/settings')
    expect(await page.getByTestId('bypass').inputValue(step)).toBe('intranet')
    await page.keyboard.press('Alt+1')
    await confirm.getByTestId('confirm-action').click(step)
    await expect.poll(hash, step).toBe('#/overview')
  }, 60_000)

  it('asks before a profile rename is lost to another profile or view, and not when nothing changed', async () => {
    await open('Profiles')
    await page.getByLabel('New profile name').fill('Look')
    await page.getByRole('button', { name: 'Create profile' }).click()
    const name = page.getByLabel('Name', { exact: true }).first()
    await expect.poll(() => name.inputValue(), { timeout: 10_000 }).toBe('Look')
    // Opened and untouched: leaving does not ask.
    await open('Overview')
    expect(new URL(page.url()).hash).toBe('#/overview')
    await open('Profiles')
    await page.getByRole('button', { name: 'Look', exact: true }).click()
    await name.fill('Look renamed')
    await page.getByRole('button', { name: 'Direct', exact: true }).click()
    const ask = page.getByRole('dialog', { name: 'Discard unsaved changes?' })
    await expect.poll(() => ask.innerText()).toContain('“Look renamed” has changes that are not saved')
    await ask.getByRole('button', { name: 'Cancel' }).click()
    expect(await name.inputValue()).toBe('Look renamed')
    await open('Overview')
    await expect.poll(() => ask.innerText()).toContain('The profile being edited has changes')
    await ask.getByTestId('confirm-action').click()
    await expect.poll(() => new URL(page.url()).hash).toBe('#/overview')
  })
})
