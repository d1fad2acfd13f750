/**
 * What every end-to-end test file shares: the built UI the dashboard serves, and the teardown of a
 * headless Junction, its data directory and the browser.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import type { Result } from '../../common/result.ts'
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

/** One call over the dashboard's own WebSocket contract, from the page (it holds the access cookie). */
export async function callApi<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  const result = await page.evaluate(
    ({ method, args }) =>
      new Promise<Result<unknown>>((resolve, reject) => {
        // Runs in the page; this file compiles with Node's types, which have WebSocket but no location.
        const { location } = globalThis as unknown as { location: { host: string } }
        const ws = new WebSocket(`ws://${location.host}/api`)
        ws.onerror = () => reject(new Error('dashboard WebSocket failed'))
        ws.onopen = () => ws.send(JSON.stringify({ id: 1, method, args }))
        ws.onmessage = (message: { data: string }) => {
          const data = JSON.parse(message.data) as { id?: number; result?: Result<unknown> }
          if (data.id !== 1 || !data.result) return
          ws.close()
          resolve(data.result)
        }
      }),
    { method, args }
  )
  if (!result.ok) throw new Error(`${method}: ${result.error.message}`)
  return result.value as T
}
