/**
 * What every end-to-end test file shares: the built UI the dashboard serves, and the teardown of a
 * headless Junction, its data directory and the browser.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import type { Running } from '../harness/headless-process.ts'
import type { launchChromium } from './chromium.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

/** Builds the renderer if this checkout has not yet (CI builds first): the dashboard serves it. */
export function ensureRendererBuilt(): void {
  if (existsSync(path.join(ROOT, 'out/renderer/index.html'))) return
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'],
    {
      cwd: ROOT,
      stdio: 'ignore'
    }
  )
}

/** Closes the browser, stops headless Junction and removes its data directory (each if started). */
export async function closeSession(parts: {
  browser: Awaited<ReturnType<typeof launchChromium>> | undefined
  running: Running | undefined
  dataDir: string | undefined
}): Promise<void> {
  await parts.browser?.close()
  parts.running?.child.kill('SIGTERM')
  await parts.running?.exited
  if (parts.dataDir) await fs.rm(parts.dataDir, { recursive: true, force: true })
}
