/**
 * Import and export in the UI (real Chromium, headless dashboard): a Clash file picked in the Profiles
 * view is previewed with what it cannot carry over, imported as a new profile, and that profile is
 * downloaded as a PAC file. The panel has no axe violations.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import AxeBuilder from '@axe-core/playwright'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const CLASH = path.resolve(import.meta.dirname, '../fixtures/import/clash.yaml')
let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string

beforeAll(async () => {
  ensureRendererBuilt()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-import-'))
  ;({ running, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
})

describe('import and export from the Profiles view', () => {
  it('previews a Clash file, imports it as a new profile and downloads it as PAC', async () => {
    const page = await browser.context.newPage()
    await page.goto(dashboardUrl)
    await page.getByRole('button', { name: 'Profiles', exact: true }).click()

    await page.getByTestId('import-file').setInputFiles(CLASH)
    const preview = page.getByTestId('import-preview')
    await expect
      .poll(() => preview.innerText(), { timeout: 15_000 })
      .toContain('Clash / mihomo configuration: 1 profile to add.')
    const skipped = await page.getByTestId('import-skipped').innerText()
    expect(skipped).toMatch(/1 × proxies of type vmess\s*— e\.g\. jp-vmess/)
    expect(skipped).toMatch(/1 × GEOIP rules/)
    // Saved only on Import.
    expect(await page.getByRole('button', { name: 'Clash (clash.yaml)', exact: true }).count()).toBe(0)

    const axe = await new AxeBuilder({ page }).include('.import-export').analyze()
    expect(axe.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([])

    await page.getByRole('button', { name: 'Import 1 profile' }).click()
    await expect
      .poll(() => page.getByTestId('toast').last().innerText(), { timeout: 15_000 })
      .toContain('Imported “Clash (clash.yaml)”.')
    await page.getByRole('button', { name: 'Clash (clash.yaml)', exact: true }).click()

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export as PAC' }).click()
    ])
    expect(download.suggestedFilename()).toBe('Clash-clash-yaml.pac')
    const pac = await fs.readFile((await download.path())!, 'utf8')
    expect(pac).toContain('function FindProxyForURL(url, host)')
    expect(pac).toContain('if (h === "localhost") return "PROXY 127.0.0.1:3128";')
    await page.close()
  }, 60_000)
})
