/**
 * Runs Junction's headless mode as a real process (`node main/serve.ts`) and reads its log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

export const ENTRY = path.resolve(import.meta.dirname, '../../main/serve.ts')

export interface Running {
  child: ChildProcess
  lines: string[]
  exited: Promise<number | null>
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
}

export function serve(args: string[], entry = ENTRY, env: NodeJS.ProcessEnv = process.env): Running {
  const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  const lines: string[] = []
  const waiters = new Set<() => void>()
  const collect = (chunk: Buffer): void => {
    lines.push(...chunk.toString().split('\n').filter(Boolean))
    for (const wake of waiters) wake()
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    lines,
    exited,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          for (const line of lines) {
            const m = line.match(pattern)
            if (m) {
              waiters.delete(check)
              clearTimeout(timer)
              resolve(m)
              return
            }
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(
            new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${lines.join('\n')}`)
          )
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    }
  }
}

/** `node main/serve.ts` on free ports with `dataDir`, once it has printed its proxy and dashboard addresses. */
export async function serveWithDashboard(
  dataDir: string
): Promise<{ running: Running; proxyPort: number; dashboardUrl: string }> {
  const running = serve(['--port', '0', '--data-dir', dataDir])
  const proxyPort = Number((await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/))[1])
  const dashboardUrl = (await running.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/))[1]!
  return { running, proxyPort, dashboardUrl }
}
