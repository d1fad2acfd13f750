import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import { buildPac, PacPublisher } from '../../main/sysproxy/pac.ts'
import { shellCommands } from '../../main/sysproxy/shell-commands.ts'
import { detectPlatform } from '../../main/sysproxy/detect.ts'
import { desiredProxy } from '../../main/sysproxy/desired.ts'

/** Runs a PAC the way a browser does, with the helper functions it relies on. */
function findProxy(pac: string, host: string): string {
  const context = vm.createContext({
    isPlainHostName: (h: string) => !h.includes('.'),
    dnsDomainIs: (h: string, d: string) => h.endsWith(d),
    shExpMatch: (s: string, p: string) =>
      new RegExp(`^${p.replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`).test(s),
    isInNet: (h: string, net: string, mask: string) => {
      const n = (ip: string) => ip.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0
      return /^\d+\.\d+\.\d+\.\d+$/.test(h) && (n(h) & n(mask)) >>> 0 === (n(net) & n(mask)) >>> 0
    }
  })
  vm.runInContext(pac, context)
  return vm.runInContext(`FindProxyForURL("http://${host}/", ${JSON.stringify(host)})`, context) as string
}

const base = {
  host: '127.0.0.1',
  port: 8899,
  profileName: 'Work',
  bypass: ['localhost', '127.0.0.0/8', '*.corp', 'intranet.test', '<local>'],
  failClosed: false
}

describe('PAC', () => {
  it('sends everything to Junction, falls back to DIRECT, and bypasses the list', () => {
    const pac = buildPac(base)
    expect(findProxy(pac, 'example.com')).toBe('PROXY 127.0.0.1:8899; DIRECT')
    expect(findProxy(pac, 'localhost')).toBe('DIRECT')
    expect(findProxy(pac, '127.0.0.5')).toBe('DIRECT')
    expect(findProxy(pac, 'build.corp')).toBe('DIRECT')
    expect(findProxy(pac, 'wiki.intranet.test')).toBe('DIRECT')
    expect(findProxy(pac, 'printer')).toBe('DIRECT')
    expect(pac).toContain('profile "Work", fail-open')
  })

  it('fail-closed omits DIRECT', () => {
    expect(findProxy(buildPac({ ...base, failClosed: true }), 'example.com')).toBe('PROXY 127.0.0.1:8899')
  })

  it('changes ETag and Last-Modified only when the content changes', () => {
    let t = Date.UTC(2026, 10, 22, 10, 0, 0, 500)
    const publisher = new PacPublisher(() => new Date(t))
    const first = publisher.update(base)
    t += 60_000
    expect(publisher.update(base)).toBe(first)
    const second = publisher.update({ ...base, profileName: 'Home' })
    expect(second.etag).not.toBe(first.etag)
    expect(second.lastModified.getTime()).toBe(Date.UTC(2026, 10, 22, 10, 1, 0))
  })
})

describe('shell commands and detection', () => {
  it('prints proxy variables for POSIX shells, PowerShell and cmd', () => {
    const c = shellCommands({ host: '127.0.0.1', port: 8899 }, ['localhost', '127.0.0.0/8', '<local>'])
    expect(c.posix).toBe(
      "export http_proxy='http://127.0.0.1:8899' https_proxy='http://127.0.0.1:8899' all_proxy='http://127.0.0.1:8899' no_proxy='localhost,127.0.0.0/8' HTTP_PROXY='http://127.0.0.1:8899' HTTPS_PROXY='http://127.0.0.1:8899' ALL_PROXY='http://127.0.0.1:8899' NO_PROXY='localhost,127.0.0.0/8'"
    )
    expect(c.powershell).toBe(
      '$env:http_proxy="http://127.0.0.1:8899"; $env:https_proxy="http://127.0.0.1:8899"; $env:all_proxy="http://127.0.0.1:8899"; $env:no_proxy="localhost,127.0.0.0/8"'
    )
    expect(c.cmd).toBe(
      'set "http_proxy=http://127.0.0.1:8899" && set "https_proxy=http://127.0.0.1:8899" && set "all_proxy=http://127.0.0.1:8899" && set "no_proxy=localhost,127.0.0.0/8"'
    )
  })

  it('picks the controller by desktop and says so when there is none', () => {
    expect(detectPlatform('win32', {}).platform?.id).toBe('windows')
    expect(detectPlatform('darwin', {}).platform?.id).toBe('macos')
    expect(detectPlatform('linux', { XDG_CURRENT_DESKTOP: 'ubuntu:GNOME' }).platform?.id).toBe('gnome')
    expect(detectPlatform('linux', { XDG_CURRENT_DESKTOP: 'KDE' }).platform?.id).toBe('kde')
    const none = detectPlatform('linux', { XDG_CURRENT_DESKTOP: 'sway' })
    expect(none.platform).toBeNull()
    expect(none.reason).toMatch(/cannot set the system proxy on the "sway" desktop; use the shell commands/)
  })

  it('builds the desired settings per mode, with the default bypass list', () => {
    const settings = { mode: 'manual' as const, socks: false, bypass: [], guard: 'reapply' as const }
    expect(desiredProxy(settings, 'windows', '127.0.0.1', 8899)).toEqual({
      mode: 'manual',
      http: { host: '127.0.0.1', port: 8899 },
      https: { host: '127.0.0.1', port: 8899 },
      socks: null,
      bypass: ['localhost', '127.*', '[::1]', '<local>']
    })
    expect(desiredProxy({ ...settings, mode: 'pac' }, 'gnome', '127.0.0.1', 8899)).toEqual({
      mode: 'pac',
      url: 'http://127.0.0.1:8899/proxy.pac'
    })
    expect(desiredProxy({ ...settings, mode: 'off' }, 'gnome', '127.0.0.1', 8899)).toBeNull()
  })
})
