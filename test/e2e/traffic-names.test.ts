/**
 * Names, not ids, where users read traffic: a profile with a named upstream (a real squid), a named
 * rule and an unnamed one, real requests and tunnels through Junction, then Connections, Activity and
 * the CSV export in real Chromium. Filters find rows by what the views show: the upstream's name, the
 * kind, host:port.
 */
import { promises as fs } from 'node:fs'
import type net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Profile } from '../../common/model.ts'
import { connectTunnel, proxyGet } from '../harness/client.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { startSquid, type Upstream } from '../harness/squid.ts'
import { launchChromium } from './chromium.ts'
import { callApi, closeSession, ensureRendererBuilt } from './session.ts'

const AUTH = { username: 'names-user', password: 'names p@ss' }
const IDS = /\b(u-squid|r-origin|r-ads|p-work)\b/
let squid: Upstream
let origin: Origin
let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string
let proxyPort: number
const tunnels: net.Socket[] = []

/** The trimmed text of each cell of each row matching `testId`. */
async function cells(page: Page, testId: string): Promise<string[][]> {
  return page
    .getByTestId(testId)
    .evaluateAll((rows) =>
      rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.innerText.trim()))
    )
}

beforeAll(async () => {
  ensureRendererBuilt()
  ;[squid, origin] = await Promise.all([startSquid(AUTH), startOrigin()])
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-names-'))
  ;({ running, proxyPort, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  for (const socket of tunnels) socket.destroy()
  await closeSession({ browser, running, dataDir })
  await Promise.all([squid?.close(), origin?.close()])
})

describe('names in Connections, Activity and the CSV export', () => {
  it('shows profile, rule and upstream names and finds rows by what is shown', async () => {
    const page = await browser.context.newPage()
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.goto(dashboardUrl)
    const work: Profile = {
      id: 'p-work',
      name: 'Work',
      upstreams: [
        { id: 'u-squid', name: 'Squid', scheme: 'http', host: '127.0.0.1', port: squid.port, ...AUTH }
      ],
      rules: [
        {
          id: 'r-origin',
          name: 'Origin via Squid',
          enabled: true,
          matchers: [{ type: 'ip', value: '127.0.0.1' }],
          action: { type: 'upstream', upstreamId: 'u-squid' }
        },
        {
          id: 'r-ads',
          enabled: true,
          matchers: [{ type: 'domain', value: 'ads.test' }],
          action: { type: 'block', status: 403, body: 'no ads' }
        }
      ],
      defaultAction: { type: 'direct' }
    }
    await callApi(page, 'saveProfile', work)
    await callApi(page, 'setActiveProfile', 'p-work')

    const viaSquid = await proxyGet(proxyPort, `${origin.url}/echo`)
    expect(viaSquid.status).toBe(200)
    expect(viaSquid.headers.via).toMatch(/squid/)
    expect((await proxyGet(proxyPort, 'http://x.ads.test/')).status).toBe(403)
    // Two tunnels held open: one by the named rule through Squid, one by the default action, direct.
    for (const target of [`127.0.0.1:${origin.port}`, `localhost:${origin.port}`]) {
      const tunnel = await connectTunnel(proxyPort, target)
      expect(tunnel.status).toBe(200)
      tunnels.push(tunnel.socket)
    }

    await page.getByRole('button', { name: 'Connections', exact: true }).click()
    const filter = page.getByRole('searchbox')
    const count = page.getByTestId('connection-count')
    await expect.poll(() => count.innerText(), { timeout: 10_000 }).toBe('2 open')
    const rows = await cells(page, 'connection-row')
    // Host, then the client's address and port, then kind and names.
    expect(rows.map((row) => row[1])).toEqual([
      expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      expect.stringMatching(/^127\.0\.0\.1:\d+$/)
    ])
    expect(rows.map((row) => [row[0], ...row.slice(2, 6)]).sort()).toEqual([
      [`127.0.0.1:${origin.port}`, 'CONNECT', 'Work', 'Origin via Squid', 'Squid'],
      [`localhost:${origin.port}`, 'CONNECT', 'Work', 'default', 'direct']
    ])
    expect(await page.getByTestId('connections-viewport').innerText()).not.toMatch(IDS)

    /** Types `query` and waits until the rows and the count show exactly the `expected` targets. */
    const filterShows = async (query: string, expected: string[]): Promise<void> => {
      await filter.fill(query)
      await expect
        .poll(async () => (await cells(page, 'connection-row')).map((row) => row[0]).sort(), {
          timeout: 10_000
        })
        .toEqual([...expected].sort())
      await expect.poll(() => count.innerText(), { timeout: 10_000 }).toBe(`${expected.length} matching`)
    }
    await filterShows('Squid', [`127.0.0.1:${origin.port}`])
    await filterShows('CONNECT', [`127.0.0.1:${origin.port}`, `localhost:${origin.port}`])
    await filterShows(`127.0.0.1:${origin.port}`, [`127.0.0.1:${origin.port}`])
    await filterShows('direct connect', [`localhost:${origin.port}`])
    await filter.fill('no such name')
    await expect.poll(() => count.innerText(), { timeout: 10_000 }).toBe('0 matching')
    expect(await page.getByText('No open connection matches').count()).toBe(1)

    // "Close all matching" closes what the filter shows: the tunnel through Squid, not the direct one.
    const [throughSquid, direct] = tunnels
    await filterShows('Squid', [`127.0.0.1:${origin.port}`])
    const squidClosed = new Promise((resolve) => throughSquid!.once('close', resolve))
    await page.getByRole('button', { name: 'Close all matching' }).click()
    // The open dialog's button: every ConfirmDialog on the page has one, the closed ones hidden.
    await page.getByRole('dialog').getByTestId('confirm-action').click()
    await squidClosed
    await filter.fill('')
    await expect.poll(() => count.innerText(), { timeout: 10_000 }).toBe('1 open')
    expect(direct!.destroyed).toBe(false)

    // Closed tunnels are logged; Activity then holds the GET, the block and both tunnels.
    for (const socket of tunnels) socket.destroy()
    await page.getByRole('button', { name: 'Activity', exact: true }).click()
    const log = page.getByTestId('log-row')
    await expect.poll(() => log.count(), { timeout: 15_000 }).toBe(4)
    const logged = await cells(page, 'log-row')
    // Method, host:port, status, profile, rule, route.
    expect(logged.map((row) => row.slice(1, 7)).sort()).toEqual(
      [
        ['CONNECT', `127.0.0.1:${origin.port}`, '200', 'Work', 'Origin via Squid', 'Squid'],
        ['CONNECT', `localhost:${origin.port}`, '200', 'Work', 'default', 'direct'],
        ['GET', `127.0.0.1:${origin.port}`, '200', 'Work', 'Origin via Squid', 'Squid'],
        [
          'GET',
          'x.ads.test:80',
          '403 (blocked)',
          'Work',
          'domain ads.test and subdomains → block 403',
          'block'
        ]
      ].sort()
    )
    expect(await page.getByRole('table').last().innerText()).not.toMatch(IDS)

    const logFilter = page.getByLabel('Filter', { exact: true })
    /** Types `query` and waits until the log shows exactly `expected` (method and host:port per row). */
    const logShows = async (query: string, expected: string[][]): Promise<void> => {
      await logFilter.fill(query)
      await expect
        .poll(async () => (await cells(page, 'log-row')).map((row) => row.slice(1, 3).join(' ')).sort(), {
          timeout: 10_000
        })
        .toEqual(expected.map((row) => row.join(' ')).sort())
    }
    await logShows(`127.0.0.1:${origin.port}`, [
      ['CONNECT', `127.0.0.1:${origin.port}`],
      ['GET', `127.0.0.1:${origin.port}`]
    ])
    await logShows('squid connect', [['CONNECT', `127.0.0.1:${origin.port}`]])
    await logShows('403', [['GET', 'x.ads.test:80']])
    await logFilter.fill('no such name')
    await expect.poll(() => page.getByText('No request matches').count(), { timeout: 10_000 }).toBe(1)

    // The CSV names profiles and upstreams, with their ids in a column of their own for scripts.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click()
    ])
    const csv = (await fs.readFile((await download.path())!, 'utf8')).trim().split('\n')
    expect(csv[0]).toBe('bucket_start,resolution,kind,name,id,bytes_up,bytes_down')
    const named = new Set(csv.slice(1).map((line) => line.split(',').slice(2, 5).join(',')))
    expect(named).toContain('profile,Work,p-work')
    expect(named).toContain('route,Squid,u-squid')
    expect(named).toContain('route,block,block')

    // Deleting the named rule: what was logged by it says so, rather than showing its id.
    await callApi(page, 'saveProfile', { ...work, rules: work.rules.slice(1) })
    await logFilter.fill('Squid')
    await expect
      .poll(async () => (await cells(page, 'log-row')).map((row) => row[5]), { timeout: 10_000 })
      .toEqual(['(deleted rule)', '(deleted rule)'])
    await page.close()
  }, 90_000)
})
