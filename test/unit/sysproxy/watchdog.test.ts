/**
 * The watchdog and the journal it shares with the next start: who restores after a crash, and that
 * it is never both. Real processes and files; the OS settings are a platform kept in memory, except
 * where a real missing command is the point.
 */
import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { writeJournal, type Journal } from '../../../main/sysproxy/journal.ts'
import { SystemProxy } from '../../../main/sysproxy/system-proxy.ts'
import type { DesiredProxy, OsSnapshot, SystemProxyPlatform } from '../../../main/sysproxy/types.ts'
import { DISARM, WATCHDOG_FLAG, watch } from '../../../main/sysproxy/watchdog.ts'
import {
  electronWatchdog,
  headlessWatchdog,
  watchdogs,
  type WatchdogLauncher
} from '../../../main/sysproxy/watchdog-launch.ts'

const MANUAL: Extract<DesiredProxy, { mode: 'manual' }> = {
  mode: 'manual',
  http: { host: '127.0.0.1', port: 8899 },
  https: { host: '127.0.0.1', port: 8899 },
  socks: null,
  bypass: []
}

/** GNOME-shaped settings in memory: `current` is the OS state, `restores` counts write-backs. */
function memoryPlatform() {
  const platform = {
    id: 'gnome' as const,
    current: 'user settings',
    restores: 0,
    async snapshot(): Promise<OsSnapshot> {
      return { platform: 'gnome', data: platform.current }
    },
    view: (snapshot: OsSnapshot) => ({
      mode: snapshot.data === 'junction' ? ('manual' as const) : ('none' as const),
      http: snapshot.data === 'junction' ? MANUAL.http : null,
      https: snapshot.data === 'junction' ? MANUAL.https : null,
      socks: null,
      bypass: [],
      pacUrl: null,
      autoDetect: false
    }),
    async apply() {
      platform.current = 'junction'
    },
    async restore(snapshot: OsSnapshot) {
      platform.restores++
      platform.current = snapshot.data as string
    }
  } satisfies SystemProxyPlatform & { current: string; restores: number }
  return platform
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

let dir: string
let journalPath: string
const children: number[] = []
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-watchdog-'))
  journalPath = path.join(dir, 'sysproxy-journal.json')
})
afterEach(async () => {
  for (const pid of children.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL')
  await fs.rm(dir, { recursive: true, force: true })
})

const journal = (platform: Journal['platform'], data: unknown): Journal => ({
  version: 1,
  platform,
  snapshot: { platform, data },
  desired: MANUAL,
  at: '2026-11-29T05:00:00.000Z'
})

describe('watch()', () => {
  it('told to disarm, it exits without touching the journal', async () => {
    await writeJournal(journalPath, journal('gnome', 'user settings'))
    const input = new PassThrough()
    const outcome = watch({ journalPath, input, log: () => undefined })
    input.end(`${DISARM}\n`)
    expect(await outcome).toBe('disarmed')
    expect(await fs.readdir(dir)).toEqual(['sysproxy-journal.json'])
  })

  it('input closed and no journal (Junction restored it before it died): nothing to do', async () => {
    const input = new PassThrough()
    const outcome = watch({ journalPath, input, log: () => undefined })
    input.end()
    expect(await outcome).toBe('nothing-to-restore')
  })

  it('a failed restore hands the journal back for the next start', async () => {
    // A Windows journal on this machine: `reg` is missing, so the restore fails for real.
    const written = journal('windows', { values: {}, connectionSettings: null })
    await writeJournal(journalPath, written)
    const input = new PassThrough()
    const lines: string[] = []
    const outcome = watch({ journalPath, input, log: (line) => lines.push(line) })
    input.end()
    expect(await outcome).toBe('failed')
    expect(lines.join('\n')).toMatch(/restoring the system proxy failed \(reg was not found.*next start/)
    expect(await fs.readdir(dir)).toEqual(['sysproxy-journal.json'])
    expect(JSON.parse(await fs.readFile(journalPath, 'utf8'))).toEqual(written)
  })
})

describe('journal ownership', () => {
  it('a start waits while a live watchdog holds the journal, and restores nothing after it', async () => {
    const platform = memoryPlatform()
    // A live process standing in for a watchdog in the middle of its restore.
    const sleeper = spawn('sleep', ['30'])
    children.push(sleeper.pid!)
    const claim = `${journalPath}.claimed-${sleeper.pid}`
    await writeJournal(claim, journal('gnome', 'user settings'))
    const proxy = new SystemProxy(platform, { journalPath })
    let settled = false
    const recovered = proxy.recover().then((r) => ((settled = true), r))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(settled).toBe(false)
    // The watchdog finishes: it removes its claim.
    await fs.rm(claim)
    expect(await recovered).toEqual({ ok: true, value: null })
    expect(platform.restores).toBe(0)
  })

  it('a watchdog that takes the journal a moment before the start does is waited for too', async () => {
    const platform = memoryPlatform()
    const sleeper = spawn('sleep', ['30'])
    children.push(sleeper.pid!)
    const watchdogClaim = `${journalPath}.claimed-${sleeper.pid}`
    await writeJournal(journalPath, journal('gnome', 'user settings'))
    // The watchdog wins the race for the rename: the start's own claim finds no journal.
    const rename = vi.spyOn(fs, 'rename').mockImplementationOnce(async (from, to) => {
      expect([from, to]).toEqual([journalPath, `${journalPath}.claimed-${process.pid}`])
      await fs.link(journalPath, watchdogClaim)
      await fs.unlink(journalPath)
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' })
    })
    let settled = false
    const recovered = new SystemProxy(platform, { journalPath }).recover().then((r) => ((settled = true), r))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(settled).toBe(false)
    // The watchdog has restored the settings and removes its claim.
    await fs.rm(watchdogClaim)
    expect(await recovered).toEqual({ ok: true, value: null })
    expect(platform.restores).toBe(0)
    rename.mockRestore()
  })

  it('a claim whose process died half-way is taken over and restored', async () => {
    const platform = memoryPlatform()
    platform.current = 'junction'
    const gone = spawn('true')
    await new Promise((resolve) => gone.once('exit', resolve))
    await writeJournal(`${journalPath}.claimed-${gone.pid}`, journal('gnome', 'user settings'))
    const result = await new SystemProxy(platform, { journalPath }).recover()
    expect(result).toMatchObject({ ok: true, value: expect.stringMatching(/restored/) })
    expect(platform.current).toBe('user settings')
    expect(await fs.readdir(dir)).toEqual([])
  })

  it('a start whose restore fails keeps the journal for the next one', async () => {
    const platform = memoryPlatform()
    platform.restore = async () => {
      throw new Error('gsettings crashed')
    }
    await writeJournal(journalPath, journal('gnome', 'user settings'))
    const result = await new SystemProxy(platform, { journalPath }).recover()
    expect(result).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/gsettings crashed/) }
    })
    expect(await fs.readdir(dir)).toEqual(['sysproxy-journal.json'])
  })
})

describe('watchdog processes', () => {
  it('SystemProxy arms one when it writes the journal and disarms it when the settings are back', async () => {
    const platform = memoryPlatform()
    const lines: string[] = []
    const proxy = new SystemProxy(platform, {
      journalPath,
      guardIntervalMs: 60_000,
      watch: watchdogs(headlessWatchdog(), (line) => lines.push(line))
    })
    expect((await proxy.enable(MANUAL)).ok).toBe(true)
    // The in-memory platform has no restore plan: the Node watchdog.
    const pid = Number(/watchdog started \(pid (\d+), node\)/.exec(lines.join('\n'))?.[1])
    children.push(pid)
    expect(alive(pid)).toBe(true)
    expect((await proxy.disable()).ok).toBe(true)
    await waitUntil(() => !alive(pid), 5000)
    expect(platform.restores).toBe(1)
    expect(lines.join('\n')).not.toMatch(/stopped unexpectedly/)
  })

  it('reports a watchdog that could not start', async () => {
    const lines: string[] = []
    const launcher: WatchdogLauncher = { command: path.join(dir, 'no-such-runtime'), args: [] }
    watchdogs(launcher, (line) => lines.push(line)).arm(journalPath, null)
    await waitUntil(() => lines.length > 0, 3000)
    expect(lines[0]).toMatch(/the watchdog could not start \(spawn .*ENOENT\)/)
  })

  it('reports a watchdog that exits while armed', async () => {
    const lines: string[] = []
    const launcher: WatchdogLauncher = { command: process.execPath, args: ['-e', 'process.exit(0)'] }
    watchdogs(launcher, (line) => lines.push(line)).arm(journalPath, null)
    await waitUntil(() => lines.some((l) => /stopped unexpectedly/.test(l)), 3000)
    expect(lines.join('\n')).toMatch(/the watchdog stopped unexpectedly \(exit 0\)/)
  })

  it('the desktop launcher runs its own binary in Node mode, and that runs the watchdog', async () => {
    const script = path.join(import.meta.dirname, '../../../main/sysproxy/watchdog-main.ts')
    const launcher = electronWatchdog(
      '/opt/Junction/junction',
      '/opt/Junction/resources/app.asar/out/main/watchdog.js'
    )
    expect(launcher).toEqual({
      command: '/opt/Junction/junction',
      args: ['/opt/Junction/resources/app.asar/out/main/watchdog.js', WATCHDOG_FLAG],
      env: { ELECTRON_RUN_AS_NODE: '1' }
    })
    // The same shape with this Node standing in for Electron: the journal is restored when the
    // watchdog's parent (here: its input) goes away.
    await writeJournal(journalPath, journal('windows', { values: {}, connectionSettings: null }))
    const { command, args, env } = electronWatchdog(process.execPath, script)
    const child = spawn(command, [...args, journalPath], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'ignore', 'pipe']
    })
    children.push(child.pid!)
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdin.end()
    const code = await new Promise((resolve) => child.once('exit', resolve))
    // `reg` is missing here: the watchdog tried, said so, and left the journal for the next start.
    expect(code).toBe(1)
    expect(stderr).toMatch(/\[junction\] watchdog: .*reg was not found/)
    expect(await fs.readdir(dir)).toEqual(['sysproxy-journal.json'])
  })
})
