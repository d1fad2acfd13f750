/**
 * Real Chromium (Debian's package) driven by playwright-core, started the way this machine allows:
 * a fresh profile folder, no sandbox (root), no background networking (the network is closed).
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

export async function launchChromium(
  extraArgs: string[] = []
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs
    ]
  })
  return {
    context,
    async close() {
      await context.close()
      await fs.rm(profile, { recursive: true, force: true })
    }
  }
}
