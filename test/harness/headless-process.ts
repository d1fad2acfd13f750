/**
 * Runs Junction's headless mode as a real process (`node main/serve.ts`) and reads its log lines;
 * on Linux, reads /proc to tell which process holds a listening port and what it has spawned.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { servedNodeFlags } from '../../bench/built-serve.ts'

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const ENTRY = path.join(ROOT, 'main/serve.ts')

export interface Running {
  child: ChildProcess
  lines: string[]
  exited: Promise<number | null>
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
}

/** Ends a process a test left running (SIGKILL: what happens after a test is not under test). */
export async function killIfRunning(running: Running | null): Promise<void> {
  if (running === null || running.child.exitCode !== null || running.child.signalCode !== null) return
  running.child.kill('SIGKILL')
  await running.exited
}

/** Headless Junction with the Node flags `npm run serve` gives it (package.json). */
export function serve(args: string[], entry = ENTRY, env: NodeJS.ProcessEnv = process.env): Running {
  return runNode([...servedNodeFlags(), entry, ...args], env)
}

/** `node ...argv` from the repository root, as an npm script runs it. */
export function runNode(argv: string[], env: NodeJS.ProcessEnv = process.env): Running {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: ROOT })
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
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env
): Promise<{ running: Running; proxyPort: number; dashboardUrl: string }> {
  const running = serve(['--port', '0', '--data-dir', dataDir], ENTRY, env)
  const proxyPort = Number((await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/))[1])
  const dashboardUrl = (await running.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/))[1]!
  return { running, proxyPort, dashboardUrl }
}

/** The pid holding the socket that listens on 127.0.0.1:`port`, found through /proc (Linux only). */
export async function listeningPid(port: number): Promise<number | null> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const table = await fs.readFile('/proc/net/tcp', 'utf8')
  // Columns: sl, local_address (hex ip:port), rem_address, st (0A = LISTEN), …, inode (10th).
  const inode = table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((f) => f[1] === `0100007F:${hexPort}` && f[3] === '0A')?.[9]
  if (!inode) return null
  for (const pid of (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => [])
    for (const fd of fds)
      if ((await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === `socket:[${inode}]`)
        return Number(pid)
  }
  return null
}

/** The processes `pid` has spawned and not yet reaped, from every thread's children list (Linux only). */
export async function childPids(pid: number): Promise<number[]> {
  const tasks = await fs.readdir(`/proc/${pid}/task`)
  const lists = await Promise.all(
    tasks.map((task) => fs.readFile(`/proc/${pid}/task/${task}/children`, 'utf8'))
  )
  return lists.join(' ').split(/\s+/).filter(Boolean).map(Number)
}
