/**
 * The app's toasts in real Chromium against headless Junction: deleting the active profile in the
 * Profiles view says so with Undo, Undo brings the profile back (rules and active state, as main
 * reports them over the dashboard's contract), removing an upstream from the editor can be undone
 * too, the toasts pass axe-core, and nothing breaks the page's Content-Security-Policy.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EngineState, Profile } from '../../common/model.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { launchChromium } from './chromium.ts'
import { callApi, closeSession, ensureRendererBuilt } from './session.ts'

const WORK: Profile = {
  id: 'work',
  name: 'Work',
  upstreams: [
    { id: 'u-a', name: 'Alpha', scheme: 'http', host: '127.0.0.1', port: 3128 },
    { id: 'u-b', name: 'Beta', scheme: 'http', host: '127.0.0.1', port: 3129 }
  ],
  groups: [{ id: 'g', name: 'Both', strategy: 'failover', members: ['u-a', 'u-b'] }],
  rules: [
    {
      id: 'r-local',
      name: 'Local',
      enabled: true,
      matchers: [{ type: 'domain', value: 'local.test' }],
      action: { type: 'upstream', upstreamId: 'u-b' }
    }
  ],
  defaultAction: { type: 'direct' }
}

let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string
let page: Page
/** Content-Security-Policy violations and console errors the page reported. */
const problems: string[] = []

const call = <T>(method: string, ...args: unknown[]): Promise<T> => callApi<T>(page, method, ...args)

const profileIds = async (): Promise<string[]> => (await call<Profile[]>('listProfiles')).map((p) => p.id)

beforeAll(async () => {
  ensureRendererBuilt()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-toasts-'))
  await fs.writeFile(path.join(dataDir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [WORK] }))
  ;({ running, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
  page = await browser.context.newPage()
  page.on('console', (message) => {
    const where = message.location().url
    // The dashboard has no favicon; Chromium asks for one anyway.
    if (where.endsWith('/favicon.ico')) return
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text()))
      problems.push(`${message.text()} ${where}`)
  })
  await page.goto(dashboardUrl)
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
})

describe('toasts', () => {
  it('deleting the active profile offers Undo, and Undo brings it back, active, with its rules', async () => {
    await call('setActiveProfile', 'work')
    const seeded = (await call<Profile[]>('listProfiles')).find((p) => p.id === 'work')
    expect(seeded?.rules.map((r) => r.id)).toEqual(['r-local'])
    await page.getByRole('button', { name: 'Profiles', exact: true }).click()
    await page.getByRole('button', { name: 'Delete Work' }).click()
    await page.getByRole('group', { name: 'Confirm deletion' }).getByRole('button', { name: 'Yes' }).click()

    const toast = page.getByTestId('toast').filter({ hasText: 'Deleted “Work”.' })
    await toast.waitFor({ timeout: 10_000 })
    await expect.poll(profileIds).toEqual(['direct'])
    // The live region is polite and named; the toast passes axe in both themes.
    const region = page.getByRole('region', { name: 'Notifications' })
    expect(await region.getAttribute('aria-live')).toBe('polite')
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme })
      const { violations } = await new AxeBuilder({ page }).include('.toasts').analyze()
      expect(
        violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${scheme}: ${v.id} ${v.help}`)
      ).toEqual([])
    }

    await toast.getByRole('button', { name: 'Undo' }).click()
    await page.getByTestId('toast').filter({ hasText: 'Restored “Work”.' }).waitFor({ timeout: 10_000 })
    const restored = (await call<Profile[]>('listProfiles')).find((p) => p.id === 'work')
    expect(restored?.rules.map((r) => r.id)).toEqual(['r-local'])
    expect(restored?.groups?.[0]?.members).toEqual(['u-a', 'u-b'])
    await expect
      .poll(async () => {
        const state = await call<EngineState>('getEngineState')
        return state.status === 'running' ? state.profileId : state.status
      })
      .toBe('work')
    expect(await toast.count(), 'the Undo toast left once its action ran').toBe(0)
  }, 60_000)

  it('removing an upstream or a group from the editor can be undone, group membership included', async () => {
    await page.getByRole('button', { name: 'Work', exact: true }).click()
    const editors = page.getByTestId('upstream-editor')
    await expect.poll(() => editors.count()).toBe(2)
    await editors.first().getByRole('button', { name: 'Remove upstream' }).click()
    await expect.poll(() => editors.count()).toBe(1)

    const toast = page.getByTestId('toast').filter({ hasText: 'Removed upstream “Alpha”' })
    // Escape on the toast's button dismisses only the toast; Undo then is gone with it.
    await toast.getByRole('button', { name: 'Dismiss' }).focus()
    await page.keyboard.press('Escape')
    await expect.poll(() => toast.count()).toBe(0)

    await editors.first().getByRole('button', { name: 'Remove upstream' }).click()
    await page
      .getByTestId('toast')
      .filter({ hasText: 'Removed upstream “Beta”' })
      .getByRole('button', { name: 'Undo' })
      .click()
    await expect.poll(() => editors.count()).toBe(1)
    expect(await editors.first().getByLabel('Name', { exact: true }).inputValue()).toBe('Beta')
    await page.getByTestId('save-profile').click()
    await expect
      .poll(async () => {
        const work = (await call<Profile[]>('listProfiles')).find((p) => p.id === 'work')
        return { upstreams: work?.upstreams.map((u) => u.id), members: work?.groups?.[0]?.members }
      })
      .toEqual({ upstreams: ['u-b'], members: ['u-b'] })

    // A group too: removed, then back where it was from the toast.
    const groups = page.getByTestId('group-editor')
    await groups.getByRole('button', { name: 'Remove group' }).click()
    await expect.poll(() => groups.count()).toBe(0)
    await page
      .getByTestId('toast')
      .filter({ hasText: 'Removed group “Both”' })
      .getByRole('button', { name: 'Undo' })
      .click()
    await expect.poll(() => groups.getByTestId('group-name').inputValue()).toBe('Both')
  }, 60_000)

  it('reported no Content-Security-Policy violation or console error', () => {
    expect(problems).toEqual([])
  })
})
