/**
 * The Linux system-proxy controllers for real: gsettings on a private D-Bus session (GNOME) and
 * kwriteconfig5/kreadconfig5 on a temporary config folder (KDE).
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCommand, type CommandRunner } from '../../../main/sysproxy/command-runner.ts'
import { createGnomePlatform } from '../../../main/sysproxy/gnome.ts'
import { createKdePlatform } from '../../../main/sysproxy/kde.ts'
import { SystemProxy } from '../../../main/sysproxy/system-proxy.ts'
import type { DesiredProxy, SystemProxyPlatform } from '../../../main/sysproxy/types.ts'
import { startDesktopSession, type DesktopSession } from '../../harness/desktop-session.ts'

const manual: DesiredProxy = {
  mode: 'manual',
  http: { host: '127.0.0.1', port: 8899 },
  https: { host: '127.0.0.1', port: 8899 },
  socks: null,
  bypass: ['localhost', '127.0.0.0/8', '::1']
}
const pac: DesiredProxy = { mode: 'pac', url: 'http://127.0.0.1:8899/proxy.pac' }

describe.each(['GNOME', 'KDE'] as const)('%s', (desktop) => {
  let session: DesktopSession
  let platform: SystemProxyPlatform
  const make = (run: CommandRunner = runCommand) =>
    desktop === 'GNOME' ? createGnomePlatform(run, session.env) : createKdePlatform(run, session.env)
  const cmd = (file: string, args: string[]) => runCommand(file, args, { env: session.env })
  /** The settings as the OS stores them: dconf's database, or kioslaverc's bytes (null: no file). */
  const stored = async () =>
    desktop === 'GNOME'
      ? (await cmd('dconf', ['dump', '/system/proxy/'])).stdout
      : await fs.readFile(path.join(session.home, '.config', 'kioslaverc'), 'utf8').catch(() => null)

  beforeEach(async () => {
    session = await startDesktopSession(desktop)
    platform = make()
    // The user's own setup before Junction: a corporate proxy with its bypass list.
    if (desktop === 'GNOME') {
      await cmd('gsettings', ['set', 'org.gnome.system.proxy.http', 'host', 'corp-proxy.example'])
      await cmd('gsettings', ['set', 'org.gnome.system.proxy.http', 'port', '3128'])
      await cmd('gsettings', [
        'set',
        'org.gnome.system.proxy',
        'ignore-hosts',
        "['intranet.example', 'localhost']"
      ])
      await cmd('gsettings', ['set', 'org.gnome.system.proxy', 'mode', 'manual'])
    } else {
      const values: [string, string][] = [
        ['ProxyType', '1'],
        ['httpProxy', 'http://corp-proxy.example 3128'],
        ['NoProxyFor', 'intranet.example,localhost']
      ]
      const kwrite = ['--file', 'kioslaverc', '--group', 'Proxy Settings', '--key']
      for (const [key, value] of values) await cmd('kwriteconfig5', [...kwrite, key, value])
    }
  })
  afterEach(async () => {
    await session.close()
  })

  it('reads the user’s settings completely', async () => {
    const view = platform.view(await platform.snapshot())
    const corp = { host: 'corp-proxy.example', port: 3128 }
    expect(view).toMatchObject({ mode: 'manual', http: corp })
    // GNOME's default use-same-proxy applies the HTTP proxy to every protocol; KDE has no such switch.
    expect(view.socks).toEqual(desktop === 'GNOME' ? corp : null)
    expect(view.bypass).toEqual(['intranet.example', 'localhost'])
  })

  it('enables manual and PAC mode, reads them back, and restores the original exactly', async () => {
    const journalPath = path.join(session.home, 'sysproxy-journal.json')
    const before = await platform.snapshot()
    const storedBefore = await stored()
    const proxy = new SystemProxy(platform, { journalPath, guardIntervalMs: 60_000 })
    const on = await proxy.enable(manual)
    expect(on).toMatchObject({ ok: true, value: { mode: 'manual', http: { host: '127.0.0.1', port: 8899 } } })
    const journal = JSON.parse(await fs.readFile(journalPath, 'utf8')) as { snapshot: unknown }
    expect(journal.snapshot).toEqual(before)
    expect((await proxy.enable(pac)).ok).toBe(true)
    expect(platform.view(await platform.snapshot())).toMatchObject({ mode: 'pac', pacUrl: pac.url })
    // The journal still holds the settings from before Junction, not Junction's manual mode.
    expect((JSON.parse(await fs.readFile(journalPath, 'utf8')) as { snapshot: unknown }).snapshot).toEqual(
      before
    )
    expect((await proxy.disable()).ok).toBe(true)
    expect(await platform.snapshot()).toEqual(before)
    // Exact as stored, too: keys that were at their default are reset, not written as values.
    expect(await stored()).toBe(storedBefore)
    await expect(fs.access(journalPath)).rejects.toThrow()
  })

  it('a user who never set a proxy: after on and off, nothing is stored', async () => {
    await session.close()
    session = await startDesktopSession(desktop)
    platform = make()
    const storedBefore = await stored()
    expect(storedBefore).toBe(desktop === 'GNOME' ? '' : null)
    const proxy = new SystemProxy(platform, {
      journalPath: path.join(session.home, 'j.json'),
      guardIntervalMs: 60_000
    })
    expect((await proxy.enable(manual)).ok).toBe(true)
    expect(await stored()).not.toBe(storedBefore)
    expect((await proxy.disable()).ok).toBe(true)
    expect(await stored()).toBe(storedBefore)
  })

  it('a command failing half-way leaves the previous settings in place', async () => {
    const journalPath = path.join(session.home, 'sysproxy-journal.json')
    const before = await platform.snapshot()
    let writes = 0
    // Fails the third write of apply; reads and the restore go through.
    const flaky: CommandRunner = async (file, args, options) => {
      const writing = args[0] === 'set' || (file.startsWith('kwriteconfig') && !args.includes('--delete'))
      if (writing && ++writes === 3) throw new Error(`${file} crashed`)
      return runCommand(file, args, options)
    }
    const proxy = new SystemProxy(make(flaky), { journalPath })
    const result = await proxy.enable(manual)
    expect(result).toMatchObject({ ok: false, error: { code: 'engine-error' } })
    expect(!result.ok && result.error.message).toMatch(/crashed\. The previous settings were restored\./)
    expect(await platform.snapshot()).toEqual(before)
    expect(proxy.state).toEqual({ status: 'off' })
    await expect(fs.access(journalPath)).rejects.toThrow()
  })

  it('guard: re-applies once when another program changes the settings, then yields if it happens again', async () => {
    const proxy = new SystemProxy(platform, {
      journalPath: path.join(session.home, 'j.json'),
      guardIntervalMs: 60_000
    })
    expect((await proxy.enable(manual)).ok).toBe(true)
    const changes: string[] = []
    proxy.on('changed', (c) => changes.push(`${c.action}:${c.actual.mode}`))
    const otherProgram = () =>
      desktop === 'GNOME'
        ? cmd('gsettings', ['set', 'org.gnome.system.proxy', 'mode', 'none'])
        : cmd('kwriteconfig5', [
            '--file',
            'kioslaverc',
            '--group',
            'Proxy Settings',
            '--key',
            'ProxyType',
            '0'
          ])
    await otherProgram()
    await proxy.check()
    expect(platform.view(await platform.snapshot()).mode).toBe('manual')
    await otherProgram()
    await proxy.check()
    expect(changes).toEqual(['reapplied:none', 'yielded:none'])
    expect(proxy.state).toMatchObject({ status: 'yielded', reason: expect.stringMatching(/keeps changing/) })
    expect(platform.view(await platform.snapshot()).mode).toBe('none')
  })
})
