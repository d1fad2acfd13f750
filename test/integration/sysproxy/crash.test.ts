/**
 * Crash safety for real: headless Junction turns the GNOME or KDE proxy on and is killed with SIGKILL;
 * its watchdog (`sh`, under 10 MiB resident) puts the user's settings back within 2 s, exactly as the
 * OS stored them (`dconf dump`, the bytes of kioslaverc). A clean stop leaves no watchdog behind; killing the `npm start` wrapper
 * leaves no orphan engine. Also the PAC file on the proxy port.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runCommand } from '../../../main/sysproxy/command-runner.ts'
import { createGnomePlatform } from '../../../main/sysproxy/gnome.ts'
import { JOURNAL_FILE } from '../../../main/sysproxy/attach.ts'
import { createKdePlatform } from '../../../main/sysproxy/kde.ts'
import type { SystemProxyPlatform } from '../../../main/sysproxy/types.ts'
import { proxyGet, rawRequest } from '../../harness/client.ts'
import { startDesktopSession, type DesktopSession } from '../../harness/desktop-session.ts'
import { killIfRunning, listeningPid, runNode, serve, type Running } from '../../harness/headless-process.ts'

type Desktop = 'GNOME' | 'KDE'

let session: DesktopSession | null = null
let dataDir = ''
const started: Running[] = []
/** Processes a failing test could leave behind (an orphaned engine, a watchdog). */
const strays: number[] = []

afterEach(async () => {
  for (const running of started.splice(0)) await killIfRunning(running)
  for (const pid of strays.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL')
  await session?.close()
  session = null
  await fs.rm(dataDir, { recursive: true, force: true })
})

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Polls until `check` holds; returns how long that took, or throws after `timeoutMs`. */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = performance.now()
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return performance.now() - start
}

/** A process's program name and resident memory, as the kernel reports them. */
async function processFacts(pid: number): Promise<{ comm: string; rssKiB: number }> {
  const comm = (await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim()
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  return { comm, rssKiB: Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) }
}

const NO_FILE = '(no kioslaverc)'

/**
 * A desktop with the user's own proxy set up (or, with `userProxy` false, nothing ever set), and
 * readers of its settings as the OS stores them.
 */
async function desktop(kind: Desktop, userProxy = true) {
  session = await startDesktopSession(kind)
  const env = session.env
  const run = (file: string, args: string[]) => runCommand(file, args, { env })
  const kioslaverc = path.join(session.home, '.config', 'kioslaverc')
  if (!userProxy) {
    // Nothing to set up.
  } else if (kind === 'GNOME') {
    await run('gsettings', ['set', 'org.gnome.system.proxy.http', 'host', 'corp-proxy.example'])
    await run('gsettings', ['set', 'org.gnome.system.proxy.http', 'port', '3128'])
    await run('gsettings', ['set', 'org.gnome.system.proxy', 'mode', 'manual'])
  } else {
    const kwrite = ['--file', 'kioslaverc', '--group', 'Proxy Settings', '--key']
    await run('kwriteconfig5', [...kwrite, 'ProxyType', '1'])
    await run('kwriteconfig5', [...kwrite, 'httpProxy', 'http://corp-proxy.example 3128'])
    await run('kwriteconfig5', [...kwrite, 'NoProxyFor', 'intranet.example'])
    await run('kwriteconfig5', ['--file', 'kioslaverc', '--group', 'Cache', '--key', 'MaxCacheSize', '5120'])
  }
  const platform: SystemProxyPlatform =
    kind === 'GNOME' ? createGnomePlatform(runCommand, env) : createKdePlatform(runCommand, env)
  /** The settings as stored: dconf's database for GNOME, kioslaverc's bytes for KDE. */
  const stored = async () =>
    kind === 'GNOME'
      ? (await run('dconf', ['dump', '/system/proxy/'])).stdout
      : await fs.readFile(kioslaverc, 'utf8').catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return NO_FILE
          throw error
        })
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-crash-'))
  return { env, platform, stored, before: await stored() }
}

async function start(env: NodeJS.ProcessEnv, mode: 'off' | 'manual' | 'pac') {
  const running = serve(['--port', '0', '--data-dir', dataDir, '--system-proxy', mode], undefined, env)
  started.push(running)
  const port = Number((await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/))[1])
  const watchdog =
    mode === 'off'
      ? null
      : Number((await running.waitFor(/system proxy: watchdog started \(pid (\d+), sh\)/))[1])
  if (watchdog !== null) strays.push(watchdog)
  if (mode !== 'off') await running.waitFor(/system proxy: (manual|PAC)/)
  return { running, port, watchdog }
}

const journalFiles = async () => (await fs.readdir(dataDir)).filter((n) => n.startsWith(JOURNAL_FILE))

describe('system proxy crash safety', () => {
  it.each([
    ['GNOME', 'manual'],
    ['KDE', 'manual'],
    ['GNOME', 'pac']
  ] as const)(
    '%s, %s: SIGKILL of the engine → the watchdog restores the exact settings within 2 s',
    async (kind, mode) => {
      const { env, platform, stored, before } = await desktop(kind)
      const { running, port, watchdog } = await start(env, mode)
      expect(platform.view(await platform.snapshot())).toMatchObject(
        mode === 'manual'
          ? { mode: 'manual', http: { host: '127.0.0.1', port } }
          : { mode: 'pac', pacUrl: `http://127.0.0.1:${port}/proxy.pac` }
      )
      expect(await stored()).not.toBe(before)
      // The watchdog is a shell, not a second Node: about 1 MiB where Node needs 45 or more.
      const { comm, rssKiB } = await processFacts(watchdog!)
      console.log(`${kind} ${mode}: watchdog ${comm}, VmRSS ${rssKiB} KiB`)
      expect(comm).toBe('sh')
      expect(rssKiB).toBeLessThan(10 * 1024)

      const killedAt = performance.now()
      running.child.kill('SIGKILL')
      // The watchdog logs on Junction's stderr once the settings are written back.
      await running.waitFor(/watchdog: Junction stopped without restoring the system proxy; restored/, 5000)
      const restoreMs = performance.now() - killedAt
      console.log(`${kind} ${mode}: restored ${restoreMs.toFixed(0)} ms after SIGKILL`)
      expect(restoreMs).toBeLessThan(2000)
      expect(await stored()).toBe(before)
      await waitUntil(() => !alive(watchdog!), 5000)
      expect(await journalFiles()).toEqual([])

      // The next start finds nothing to restore, so it cannot write old settings over newer ones.
      const next = await start(env, 'off')
      next.running.child.kill('SIGTERM')
      expect(await next.running.exited).toBe(0)
      expect(next.running.lines.join('\n')).not.toMatch(/restored the system proxy settings from before/)
      expect(await stored()).toBe(before)
    }
  )

  it.each(['GNOME', 'KDE'] as const)(
    '%s, a user who never set a proxy: after SIGKILL the watchdog leaves nothing stored',
    async (kind) => {
      const { env, stored, before } = await desktop(kind, false)
      expect(before).toBe(kind === 'GNOME' ? '' : NO_FILE)
      const { running, watchdog } = await start(env, 'manual')
      expect(await stored()).not.toBe(before)
      running.child.kill('SIGKILL')
      await running.waitFor(/watchdog: Junction stopped without restoring the system proxy; restored/, 5000)
      // GNOME: every key reset, none left in dconf; KDE: every key deleted and the file Junction created removed.
      expect(await stored()).toBe(before)
      await waitUntil(() => !alive(watchdog!), 5000)
      expect(await journalFiles()).toEqual([])
    }
  )

  it('a clean stop restores the settings itself and leaves no watchdog process behind', async () => {
    const { env, stored, before } = await desktop('GNOME')
    const { running, watchdog } = await start(env, 'manual')
    expect(alive(watchdog!)).toBe(true)
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
    expect(running.lines).toContain('[junction] system proxy: previous settings restored')
    const goneMs = await waitUntil(() => !alive(watchdog!), 5000)
    console.log(`watchdog gone ${goneMs.toFixed(0)} ms after Junction exited`)
    // Disarmed, it exited without restoring anything itself.
    expect(running.lines.join('\n')).not.toMatch(/watchdog: Junction stopped/)
    expect(await stored()).toBe(before)
    expect(await journalFiles()).toEqual([])
  })

  it('engine and watchdog both killed (a power cut): the next start restores before anything else', async () => {
    const { env, stored, before } = await desktop('KDE')
    const { running, watchdog } = await start(env, 'manual')
    process.kill(watchdog!, 'SIGKILL')
    running.child.kill('SIGKILL')
    await running.exited
    await waitUntil(() => !alive(watchdog!), 5000)
    expect(await stored()).not.toBe(before)
    const next = await start(env, 'manual')
    await next.running.waitFor(
      /system proxy: restored the system proxy settings from before Junction's last session/
    )
    next.running.child.kill('SIGTERM')
    expect(await next.running.exited).toBe(0)
    expect(await stored()).toBe(before)
  })

  it('killing the `npm start` wrapper leaves no orphan: the engine restores the proxy and exits', async () => {
    const { env, stored, before } = await desktop('GNOME')
    const npmCli = await fs.realpath(
      (await runCommand('sh', ['-c', 'command -v npm'])).stdout.trim() || '/usr/bin/npm'
    )
    const headlessEnv = { ...env }
    // No display: `npm start` runs headless mode in its own process (scripts/start.mjs).
    delete headlessEnv.DISPLAY
    delete headlessEnv.WAYLAND_DISPLAY
    const npm = runNode(
      [
        npmCli,
        'start',
        '--',
        '--port',
        '0',
        '--data-dir',
        dataDir,
        '--system-proxy',
        'manual',
        '--no-dashboard'
      ],
      headlessEnv
    )
    started.push(npm)
    const port = Number((await npm.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/, 20_000))[1])
    const watchdog = Number((await npm.waitFor(/watchdog started \(pid (\d+), sh\)/))[1])
    await npm.waitFor(/system proxy: manual/)
    const engine = await listeningPid(port)
    expect(engine).not.toBeNull()
    strays.push(engine!, watchdog)
    // npm → sh -c → node: the engine is not npm's child.
    expect(engine).not.toBe(npm.child.pid)

    npm.child.kill('SIGKILL')
    await npm.exited
    const exitMs = await waitUntil(() => !alive(engine!), 5000)
    console.log(`engine exited ${exitMs.toFixed(0)} ms after npm was killed`)
    // Junction restored the settings itself (not its watchdog) before it exited.
    await npm.waitFor(/the process that started Junction is gone: shutting down/)
    await npm.waitFor(/system proxy: previous settings restored/)
    expect(npm.lines.join('\n')).not.toMatch(/watchdog: Junction stopped/)
    expect(await stored()).toBe(before)
    await waitUntil(() => !alive(watchdog), 5000)
    expect(await listeningPid(port)).toBeNull()
  })
})

describe('PAC endpoint', () => {
  it('serves the PAC on the proxy port with ETag/Last-Modified and 304s, next to normal proxying', async () => {
    const { env, platform } = await desktop('GNOME')
    const { port } = await start(env, 'pac')
    expect(platform.view(await platform.snapshot())).toMatchObject({
      mode: 'pac',
      pacUrl: `http://127.0.0.1:${port}/proxy.pac`
    })
    const pac = await rawRequest(port, 'GET /proxy.pac HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    expect(pac).toMatch(/^HTTP\/1\.1 200 OK/)
    expect(pac).toMatch(/content-type: application\/x-ns-proxy-autoconfig/i)
    // Fail-open: browsers go direct when Junction is gone, before the watchdog has restored anything.
    expect(pac).toContain(`return "PROXY 127.0.0.1:${port}; DIRECT";`)
    const etag = /etag: (".*")/i.exec(pac)![1]!
    const modified = /last-modified: (.*)\r/i.exec(pac)![1]!
    const again = await rawRequest(
      port,
      `GET /proxy.pac HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\nConnection: close\r\n\r\n`
    )
    expect(again).toMatch(/^HTTP\/1\.1 304 Not Modified/)
    const since = await rawRequest(
      port,
      `GET /proxy.pac HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: ${modified}\r\nConnection: close\r\n\r\n`
    )
    expect(since).toMatch(/^HTTP\/1\.1 304/)
    expect(await rawRequest(port, 'GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 400[\s\S]*This is the Junction proxy/
    )
    // The same port still proxies.
    const { startOrigin } = await import('../../harness/origin.ts')
    const origin = await startOrigin()
    try {
      expect((await proxyGet(port, `${origin.url}/echo`)).status).toBe(200)
    } finally {
      await origin.close()
    }
  })
})
