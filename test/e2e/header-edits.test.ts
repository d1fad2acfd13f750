/**
 * Header edits and timeouts set in the UI (real Chromium, headless dashboard) reach the files the
 * engine reads: the rule in profiles.json carries its edits, settings.json the changed timeout.
 * (Edits applied to real traffic are the engine's tests.)
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_SETTINGS, type Profile, type Settings } from '../../common/model.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const WORK: Profile = {
  id: 'work',
  name: 'Work',
  upstreams: [],
  rules: [
    {
      id: 'staging',
      name: 'Staging',
      enabled: true,
      matchers: [{ type: 'domain', value: 'app.test' }],
      action: { type: 'direct' }
    }
  ],
  defaultAction: { type: 'direct' }
}

let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string

const readJson = async <T>(name: string): Promise<T> =>
  JSON.parse(await fs.readFile(path.join(dataDir, name), 'utf8')) as T

beforeAll(async () => {
  ensureRendererBuilt()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-edits-'))
  await fs.writeFile(path.join(dataDir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [WORK] }))
  ;({ running, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
})

describe('header edits and timeouts from the UI', () => {
  it('saves a rule’s header edits to its profile, and explains them', async () => {
    const page = await browser.context.newPage()
    await page.goto(dashboardUrl)
    await page.getByRole('button', { name: 'Rules', exact: true }).click()
    await page.getByRole('button', { name: 'Edit Staging' }).click()
    const form = page.getByTestId('add-rule')

    // From the keyboard: the add button, then the new row's name field has the focus.
    await form.getByRole('button', { name: 'Add request header edit' }).press('Enter')
    await page.keyboard.type('Bad Name')
    await expect
      .poll(() => form.getByTestId('request-header-edits').innerText())
      .toContain('must be a header name')
    await form.getByLabel('Request header edit 1: name').fill('X-Env')
    await form.getByLabel('Request header edit 1: value').fill('staging')
    await form.getByRole('button', { name: 'Add response header edit' }).click()
    await form.getByLabel('Response header edit 1: operation').selectOption('remove')
    await form.getByLabel('Response header edit 1: name').fill('Set-Cookie')
    await form.getByRole('button', { name: 'Save rule' }).click()
    await expect.poll(() => page.getByTestId('rule-edits').innerText()).toBe('· 2 header edits')

    const { profiles } = await readJson<{ profiles: Profile[] }>('profiles.json')
    expect(profiles.find((p) => p.id === 'work')?.rules[0]?.rewrite).toEqual({
      request: [{ op: 'set', name: 'X-Env', value: 'staging' }],
      response: [{ op: 'remove', name: 'Set-Cookie' }]
    })

    await page.getByTestId('explain-input').fill('http://www.app.test/')
    await page.getByTestId('explain-button').click()
    await expect
      .poll(() => page.getByTestId('explain-result').innerText())
      .toMatch(
        /→ direct; rewrites 1 request and 1 response headers \(request: set X-Env; response: remove Set-Cookie\)$/
      )
    await page.close()
  })

  it('saves a changed connect timeout and keeps the other timeouts', async () => {
    const page = await browser.context.newPage()
    await page.goto(dashboardUrl)
    await page.getByRole('button', { name: 'Settings', exact: true }).click()
    const connect = page.getByLabel('Connect', { exact: true })
    await connect.fill('0')
    await expect.poll(() => page.locator('#timeout-connectSeconds-error').innerText()).toBe('must be 1–600 s')
    await connect.fill('30')
    await page.getByRole('switch', { name: 'Add Via header' }).uncheck()
    await page.getByTestId('save-settings').click()
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Saved' }).count()).toBe(1)

    const saved = await readJson<Settings>('settings.json')
    expect(saved.timeouts).toEqual({ ...DEFAULT_SETTINGS.timeouts, connectSeconds: 30 })
    expect(saved.via).toBe(false)
    // A fresh page reads the saved values back through the dashboard API.
    await page.reload()
    await page.getByRole('button', { name: 'Settings', exact: true }).click()
    await expect.poll(() => page.getByLabel('Connect', { exact: true }).inputValue()).toBe('30')
    expect(await page.getByRole('switch', { name: 'Add Via header' }).isChecked()).toBe(false)
    await page.close()
  })
})
