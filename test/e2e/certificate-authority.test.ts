/**
 * Settings → HTTPS interception in real Chromium against the headless dashboard: the CA does not
 * exist until the panel asks for it, the panel's fingerprint and Chromium command describe the file
 * in `<data dir>/ca/`, and Download PEM hands over that file's bytes.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

let running: Running
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let dashboardUrl: string
let proxyPort: number

beforeAll(async () => {
  ensureRendererBuilt()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-ca-'))
  ;({ running, proxyPort, dashboardUrl } = await serveWithDashboard(dataDir))
  browser = await launchChromium()
}, 120_000)
afterAll(async () => {
  await closeSession({ browser, running, dataDir })
})

describe('the local CA in Settings', () => {
  it('shows the fingerprint of <data dir>/ca/junction-ca.pem and downloads that file', async () => {
    const pemPath = path.join(dataDir, 'ca', 'junction-ca.pem')
    // Created on first use: starting Junction does not make one.
    expect(existsSync(path.join(dataDir, 'ca'))).toBe(false)

    const page = await browser.context.newPage()
    await page.goto(dashboardUrl)
    await page.getByRole('button', { name: 'Settings', exact: true }).click()
    const fingerprint = page.getByTestId('ca-fingerprint')
    await expect.poll(() => fingerprint.count(), { timeout: 10_000 }).toBe(1)

    const pem = await fs.readFile(pemPath)
    const cert = new X509Certificate(pem)
    expect(await fingerprint.innerText()).toBe(cert.fingerprint256)
    expect(await page.getByTestId('ca-path').innerText()).toBe(pemPath)
    expect((await fs.stat(path.join(dataDir, 'ca', 'junction-ca.key'))).mode & 0o777).toBe(0o600)

    const spki = createHash('sha256')
      .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64')
    await page.getByText('How to trust the CA').click()
    expect(await page.getByTestId('chromium-command').innerText()).toBe(
      `chromium --user-data-dir=$(mktemp -d) --proxy-server=http://127.0.0.1:${proxyPort} --ignore-certificate-errors-spki-list=${spki}`
    )

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download PEM' }).click()
    ])
    expect(download.suggestedFilename()).toBe('junction-ca.pem')
    expect((await fs.readFile(await download.path())).equals(pem)).toBe(true)
    await page.close()
  })
})
