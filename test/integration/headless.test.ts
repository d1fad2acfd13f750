/**
 * Headless mode as a user runs it: a real `node main/serve.ts` process (and `npm start`'s command)
 * with a data directory.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { proxyGet } from '../harness/client.ts'
import {
  childPids,
  ENTRY,
  killIfRunning,
  listeningPid,
  ROOT,
  runNode,
  serve,
  type Running
} from '../harness/headless-process.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { HistoryStore } from '../../main/stats/history-store.ts'
import { servedNodeFlags } from '../../bench/built-serve.ts'

let origin: Origin
let dataDir: string
let running: Running | null = null

beforeAll(async () => {
  origin = await startOrigin()
})
afterAll(async () => {
  await origin.close()
})
afterEach(async () => {
  await killIfRunning(running)
  running = null
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true })
})

async function freshDataDir(): Promise<string> {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-headless-'))
  return dataDir
}

const block = {
  id: 'strict',
  name: 'Strict',
  upstreams: [],
  rules: [
    {
      id: 'loop',
      enabled: true,
      matchers: [{ type: 'ip', value: '127.0.0.0/8' }],
      action: { type: 'block', status: 403, body: 'strict' }
    }
  ],
  defaultAction: { type: 'direct' }
}

describe('npm run serve', () => {
  it('stops cleanly on a SIGTERM that arrives while it is still starting', async () => {
    const dir = await freshDataDir()
    running = serve(['--port', '0', '--data-dir', dir])
    // The first line comes before the engine starts and long before the dashboard.
    await running.waitFor(/data directory:/)
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
    expect(running.lines).toContain('[junction] SIGTERM: shutting down')
    expect(running.lines.at(-1)).toBe('[junction] proxy stopped')
  })

  it('serves with the chosen profile, logs state changes and stops cleanly on SIGTERM', async () => {
    const dir = await freshDataDir()
    await fs.writeFile(path.join(dir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [block] }))
    running = serve(['--port', '0', '--profile', 'strict', '--data-dir', dir])
    const [, port] = await running.waitFor(
      /proxy listening on http:\/\/127\.0\.0\.1:(\d+) — profile "Strict"/
    )
    const res = await proxyGet(Number(port), `${origin.url}/echo`)
    expect(res.status).toBe(403)
    expect(res.body.toString()).toBe('strict')
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
    expect(running.lines.slice(-3)).toEqual([
      '[junction] SIGTERM: shutting down',
      '[junction] proxy stopping',
      '[junction] proxy stopped'
    ])
  })

  it('keeps a corrupt config as it is, reports it and runs on what it could read', async () => {
    const dir = await freshDataDir()
    const profilesText = '{ "version": 1, "profiles": [ {'
    const settingsText = JSON.stringify({ version: 1, port: 'eighty', via: false })
    await fs.writeFile(path.join(dir, 'profiles.json'), profilesText)
    await fs.writeFile(path.join(dir, 'settings.json'), settingsText)
    running = serve(['--port', '0', '--data-dir', dir])
    const [, port] = await running.waitFor(
      /proxy listening on http:\/\/127\.0\.0\.1:(\d+) — profile "Direct"/
    )
    expect(running.lines.join('\n')).toMatch(
      /config problem: .*profiles\.json is not valid JSON.*the file was left as it is.*defaults were loaded/
    )
    expect(running.lines.join('\n')).toMatch(
      /config problem: .*settings\.json has invalid entries, ignored: port: .*\(using the default, 8899\)/
    )
    // Loading changed nothing: the files are copied aside only before Junction first saves them.
    expect((await fs.readdir(dir)).filter((f) => f.includes('.corrupt-'))).toEqual([])
    expect(await fs.readFile(path.join(dir, 'profiles.json'), 'utf8')).toBe(profilesText)
    expect(await fs.readFile(path.join(dir, 'settings.json'), 'utf8')).toBe(settingsText)
    // via: false was kept: no Via header on the response.
    const res = await proxyGet(Number(port), `${origin.url}/echo`)
    expect(res.status).toBe(200)
    expect(res.headers.via).toBeUndefined()
    running.child.kill('SIGINT')
    expect(await running.exited).toBe(0)
  })

  it('refuses an unknown profile and bad arguments with a clear message', async () => {
    const dir = await freshDataDir()
    running = serve(['--port', '0', '--profile', 'nope', '--data-dir', dir])
    expect(await running.exited).toBe(1)
    expect(running.lines.join('\n')).toContain('No profile named "nope". Profiles: "Direct"')
    running = serve(['--port', 'x'])
    expect(await running.exited).toBe(2)
    expect(running.lines.join('\n')).toMatch(/--port must be 0–65535 \(was "x"\)\nUsage: npm run serve/)
  })
})

describe('traffic history', () => {
  const downFor = async (dir: string, host: string): Promise<number> => {
    const { store, problem } = await HistoryStore.open(dir)
    expect(problem).toBeNull()
    return (
      store.topHosts(Date.now() - 3_600_000, Date.now() + 60_000, 10).find((h) => h.host === host)?.down ?? 0
    )
  }

  it('survives a SIGKILL (up to one flush interval) and a clean restart', async () => {
    const dir = await freshDataDir()
    const env = { ...process.env, JUNCTION_HISTORY_FLUSH_MS: '200' }
    running = serve(['--port', '0', '--data-dir', dir], ENTRY, env)
    let [, port] = await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/)
    expect((await proxyGet(Number(port), `${origin.url}/bytes/50000`)).status).toBe(200)
    // The connection closed with the response; give it more than two flush intervals to reach disk.
    await new Promise((resolve) => setTimeout(resolve, 700))
    running.child.kill('SIGKILL')
    await running.exited
    const afterKill = await downFor(dir, '127.0.0.1')
    expect(afterKill).toBeGreaterThan(50_000)
    expect(afterKill).toBeLessThan(51_000)

    running = serve(['--port', '0', '--data-dir', dir], ENTRY, env)
    ;[, port] = await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/)
    expect((await proxyGet(Number(port), `${origin.url}/bytes/30000`)).status).toBe(200)
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
    const afterRestart = await downFor(dir, '127.0.0.1')
    expect(afterRestart - afterKill).toBeGreaterThan(30_000)
    expect(afterRestart - afterKill).toBeLessThan(31_000)
  })
})

/** The `node` command an npm script runs (its last `&&` step), as arguments for `node`. */
async function scriptArgv(name: 'start' | 'serve'): Promise<string[]> {
  const pkg = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>
  }
  const [command, ...argv] = pkg.scripts[name]!.split(' && ').at(-1)!.split(' ')
  expect(command).toBe('node')
  return argv
}

describe('Node flags', () => {
  it('npm start and npm run serve give the engine the same ones, and the benchmarks start it with them', async () => {
    const flags = (argv: string[]) => argv.filter((arg) => arg.startsWith('--'))
    expect(flags(await scriptArgv('start'))).toEqual(flags(await scriptArgv('serve')))
    expect(flags(await scriptArgv('serve'))).toEqual(servedNodeFlags())
    // A young generation of at most 2 x 8 MiB (README, "Running headless"; BENCHMARKS.md).
    expect(servedNodeFlags()).toContain('--max-semi-space-size=8')
    // memory-return.ts is the only idle collection: V8's own would cost the next burst its optimised code.
    expect(servedNodeFlags()).toContain('--no-memory-reducer')
  })
})

// Killing the process a user started must stop the engine: it may not run in a child of it.
describe.skipIf(process.platform !== 'linux')('one process', () => {
  it.each(['serve', 'start'] as const)(
    'npm %s runs the engine in the process it starts, with no child, and SIGTERM stops it',
    async (script) => {
      const dir = await freshDataDir()
      // No display: npm start falls back to headless mode whether or not Electron is installed.
      const env = { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' }
      running = runNode([...(await scriptArgv(script)), '--port', '0', '--data-dir', dir], env)
      if (script === 'start') {
        const [line] = await running.waitFor(
          /^Junction: cannot open the desktop app because .*; starting headless mode instead\.$/
        )
        expect(line).toMatch(/the Electron runtime is not installed|there is no display/)
      }
      const [, port] = await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/)
      expect((await proxyGet(Number(port), `${origin.url}/echo`)).status).toBe(200)
      const pid = running.child.pid!
      expect(await listeningPid(Number(port)), running.lines.join('\n')).toBe(pid)
      expect(await childPids(pid)).toEqual([])
      // It restarted itself in place with glibc held to one malloc arena (malloc-arena.ts).
      expect(await environment(pid)).toContain('MALLOC_ARENA_MAX=1')
      running.child.kill('SIGTERM')
      expect(await running.exited).toBe(0)
      expect(running.lines.at(-1)).toBe('[junction] proxy stopped')
      expect(await listeningPid(Number(port))).toBeNull()
    }
  )

  it('keeps a MALLOC_ARENA_MAX the user set', async () => {
    const dir = await freshDataDir()
    running = serve(['--port', '0', '--data-dir', dir], ENTRY, { ...process.env, MALLOC_ARENA_MAX: '4' })
    const [, port] = await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/)
    expect(await listeningPid(Number(port))).toBe(running.child.pid)
    const env = await environment(running.child.pid!)
    expect(env).toContain('MALLOC_ARENA_MAX=4')
    expect(env).not.toContain('MALLOC_ARENA_MAX=1')
  })
})

/** The environment a process runs with now (after any execve), from /proc. */
async function environment(pid: number): Promise<string[]> {
  return (await fs.readFile(`/proc/${pid}/environ`, 'latin1')).split('\0')
}
