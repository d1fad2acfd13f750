/**
 * Real Chromium through Junction with HTTPS interception: started as the Settings panel tells users
 * to (common/chromium-command.ts: the proxy, and the local CA's public key pinned), it loads an
 * intercepted `https://` page from a test origin without certificate errors and shows the rule's
 * header edits; the target's own CA reaches headless Junction through NODE_EXTRA_CA_CERTS, as a
 * company CA would.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { promises as fs } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumSwitches } from '../../common/chromium-command.ts'
import type { Profile } from '../../common/model.ts'
import { createTestCa } from '../harness/ca.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { freePort } from '../harness/ports.ts'
import { CHROMIUM, launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

const INSPECT: Profile = {
  id: 'inspect',
  name: 'Inspect',
  upstreams: [],
  rules: [
    {
      id: 'local',
      name: 'Local HTTPS',
      enabled: true,
      matchers: [{ type: 'host', value: 'localhost' }],
      action: { type: 'direct' },
      intercept: true,
      rewrite: {
        request: [{ op: 'set', name: 'X-Seen-By', value: 'junction' }],
        response: [{ op: 'set', name: 'X-Intercepted', value: 'yes' }]
      }
    }
  ],
  defaultAction: { type: 'direct' }
}

let origin: Origin
let running: Running
let dataDir: string
let proxyPort: number
let dashboardUrl: string
let devtoolsPort: number
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined

/** Opens one intercepted tunnel, which creates the local CA; the handshake itself may fail. */
async function touchInterception(port: number, target: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`CONNECT ${target} HTTP/1.1\r\n\r\n`))
    socket.once('data', () => {
      socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]))
      setTimeout(() => {
        socket.destroy()
        resolve()
      }, 300)
    })
    socket.on('error', () => resolve())
  })
}

beforeAll(async () => {
  ensureRendererBuilt()
  const originCa = await createTestCa()
  origin = await startOrigin({ tls: await originCa.issue(['localhost']) })
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-intercept-'))
  await fs.writeFile(path.join(dataDir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [INSPECT] }))
  await fs.writeFile(
    path.join(dataDir, 'settings.json'),
    JSON.stringify({ version: 1, activeProfileId: 'inspect' })
  )
  const caFile = path.join(dataDir, 'origin-ca.pem')
  await fs.writeFile(caFile, originCa.certPem)
  // What "Launch Chromium through Junction" starts: Debian's Chromium, headless here (no display),
  // reachable over the DevTools protocol so the test can drive the very browser Junction launched.
  devtoolsPort = await freePort()
  const wrapper = path.join(dataDir, 'chromium')
  await fs.writeFile(
    wrapper,
    `#!/bin/sh\nexec ${CHROMIUM} --headless --no-sandbox --disable-gpu --disable-quic --disable-background-networking ` +
      `--disable-component-update --disable-sync --proxy-bypass-list='<-loopback>' --remote-debugging-port=${devtoolsPort} "$@"\n`,
    { mode: 0o755 }
  )
  ;({ running, proxyPort, dashboardUrl } = await serveWithDashboard(dataDir, {
    ...process.env,
    NODE_EXTRA_CA_CERTS: caFile,
    JUNCTION_CHROMIUM: wrapper
  }))
  await touchInterception(proxyPort, `localhost:${origin.port}`)
  const pem = await fs.readFile(path.join(dataDir, 'ca/junction-ca.pem'), 'utf8')
  const spki = createHash('sha256')
    .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64')
  // Chromium sends loopback hosts direct unless told otherwise.
  browser = await launchChromium([...chromiumSwitches(proxyPort, spki), '--proxy-bypass-list=<-loopback>'])
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
  await origin?.close()
})

describe('Chromium through an intercepting Junction', () => {
  it('loads an intercepted https:// page without certificate errors, with the rule’s edits, seen in Inspect', async () => {
    // The Inspect view records from the moment it is first shown.
    const dashboard = await browser!.context.newPage()
    await dashboard.goto(dashboardUrl)
    await dashboard.getByRole('button', { name: 'Inspect', exact: true }).click()
    await dashboard.getByRole('button', { name: 'Pause' }).waitFor({ timeout: 10_000 })
    const page = await browser!.context.newPage()
    const response = await page.goto(`https://localhost:${origin.port}/echo`)
    expect(response?.status()).toBe(200)
    expect(response?.headers()['x-intercepted']).toBe('yes')
    const echoed = JSON.parse(await page.locator('body').innerText()) as { headers: Record<string, string> }
    expect(echoed.headers['x-seen-by']).toBe('junction')
    expect(origin.requests.some((r) => r.headers['x-seen-by'] === 'junction')).toBe(true)
    await page.close()
    const row = dashboard
      .getByTestId('exchange-row')
      .filter({ hasText: `https://localhost:${origin.port}/echo` })
    await row.waitFor({ timeout: 10_000 })
    expect(await row.innerText()).toMatch(/intercepted HTTPS/)
    await dashboard.close()
  })

  it('launches Chromium from Settings, which opens an intercepted page without certificate errors', async () => {
    const dashboard = await browser!.context.newPage()
    await dashboard.goto(dashboardUrl)
    await dashboard.getByRole('button', { name: 'Settings', exact: true }).click()
    await dashboard.getByText('How to trust the CA').click()
    await dashboard.getByRole('button', { name: 'Launch Chromium through Junction' }).click()
    await dashboard.getByText(/Chromium started with a fresh profile/).waitFor({ timeout: 10_000 })
    let launched: Browser | null = null
    for (let i = 0; i < 50 && !launched; i++)
      launched = await chromium.connectOverCDP(`http://127.0.0.1:${devtoolsPort}`).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 200))
        return null
      })
    expect(launched).not.toBeNull()
    try {
      const page = await launched!.contexts()[0]!.newPage()
      const response = await page.goto(`https://localhost:${origin.port}/echo`)
      expect([response?.status(), response?.headers()['x-intercepted']]).toEqual([200, 'yes'])
    } finally {
      // The launched browser is Junction's child no longer (it outlives Junction): close it over CDP.
      const session = await launched!.newBrowserCDPSession()
      await session.send('Browser.close').catch(() => undefined)
      await dashboard.close()
    }
  })
})
