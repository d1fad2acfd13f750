/**
 * GNOME's exact restore, command by command: keys dconf held no value for are reset, the others set,
 * mode last; where dconf cannot tell (not installed, another GSettings backend) every key is set, as
 * before. The real thing runs in test/integration/sysproxy/.
 */
import { describe, expect, it } from 'vitest'
import { CommandError, type CommandRunner } from '../../../main/sysproxy/command-runner.ts'
import { createGnomePlatform, parseDconfDump } from '../../../main/sysproxy/gnome.ts'

const LISTED = [
  "org.gnome.system.proxy autoconfig-url ''",
  "org.gnome.system.proxy ignore-hosts ['localhost', '127.0.0.0/8', '::1']",
  "org.gnome.system.proxy mode 'manual'",
  'org.gnome.system.proxy use-same-proxy true',
  "org.gnome.system.proxy.http host 'corp-proxy.example'",
  'org.gnome.system.proxy.http port 3128',
  "org.gnome.system.proxy.https host ''",
  'org.gnome.system.proxy.https port 0',
  "org.gnome.system.proxy.socks host ''",
  'org.gnome.system.proxy.socks port 0',
  ''
].join('\n')

const DUMP = "[/]\nmode='manual'\n\n[http]\nhost='corp-proxy.example'\nport=3128\n"

function recorder(dconf: string | Error) {
  const calls: string[] = []
  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args].join(' '))
    if (file === 'dconf') {
      if (dconf instanceof Error) throw dconf
      return { stdout: dconf, stderr: '' }
    }
    return { stdout: args[0] === 'list-recursively' ? LISTED : '', stderr: '' }
  }
  return { run, calls }
}

const writes = (calls: string[]) => calls.filter((c) => / (set|reset) /.test(c))

describe('parseDconfDump', () => {
  it('names each key by its directory under /system/proxy/', () => {
    expect([...parseDconfDump(DUMP)]).toEqual(['mode', 'http/host', 'http/port'])
    expect([...parseDconfDump('')]).toEqual([])
  })
})

describe('GNOME restore', () => {
  it('resets the keys that were at their default and sets the others, mode last', async () => {
    const { run, calls } = recorder(DUMP)
    const platform = createGnomePlatform(run, {})
    const snapshot = await platform.snapshot()
    expect(snapshot.data).toMatchObject({
      unset: [
        'org.gnome.system.proxy autoconfig-url',
        'org.gnome.system.proxy ignore-hosts',
        'org.gnome.system.proxy use-same-proxy',
        'org.gnome.system.proxy.https host',
        'org.gnome.system.proxy.https port',
        'org.gnome.system.proxy.socks host',
        'org.gnome.system.proxy.socks port'
      ]
    })
    calls.length = 0
    await platform.restore(JSON.parse(JSON.stringify(snapshot)))
    expect(writes(calls)).toEqual([
      'gsettings reset org.gnome.system.proxy autoconfig-url',
      'gsettings reset org.gnome.system.proxy ignore-hosts',
      'gsettings reset org.gnome.system.proxy use-same-proxy',
      "gsettings set org.gnome.system.proxy.http host 'corp-proxy.example'",
      'gsettings set org.gnome.system.proxy.http port 3128',
      'gsettings reset org.gnome.system.proxy.https host',
      'gsettings reset org.gnome.system.proxy.https port',
      'gsettings reset org.gnome.system.proxy.socks host',
      'gsettings reset org.gnome.system.proxy.socks port',
      "gsettings set org.gnome.system.proxy mode 'manual'"
    ])
  })

  it('without dconf, or with another GSettings backend, sets every value back as before', async () => {
    const missing = recorder(new CommandError('missing', 'dconf', 'dconf was not found'))
    const platform = createGnomePlatform(missing.run, {})
    const snapshot = await platform.snapshot()
    expect(snapshot.data).toMatchObject({ unset: null })
    missing.calls.length = 0
    await platform.restore(snapshot)
    expect(writes(missing.calls)).toHaveLength(10)
    expect(missing.calls.some((c) => c.includes(' reset '))).toBe(false)

    const memory = recorder(DUMP)
    const other = await createGnomePlatform(memory.run, { GSETTINGS_BACKEND: 'memory' }).snapshot()
    expect(other.data).toMatchObject({ unset: null })
    expect(memory.calls.some((c) => c.startsWith('dconf'))).toBe(false)
  })

  it('a dconf that fails otherwise fails the snapshot, so nothing is changed on a guess', async () => {
    const broken = recorder(new CommandError('failed', 'dconf', 'dconf dump failed (exit 1): error'))
    await expect(createGnomePlatform(broken.run, {}).snapshot()).rejects.toThrow(/dconf dump failed/)
  })

  it('restores a journal written before keys at their default were recorded', async () => {
    const { run, calls } = recorder(DUMP)
    const legacy = Object.fromEntries(
      LISTED.split('\n')
        .filter(Boolean)
        .map((line) => {
          const [schema, key, ...value] = line.split(' ')
          return [`${schema} ${key}`, value.join(' ')]
        })
    )
    const platform = createGnomePlatform(run, {})
    expect(platform.view({ platform: 'gnome', data: legacy })).toMatchObject({
      mode: 'manual',
      http: { host: 'corp-proxy.example', port: 3128 }
    })
    await platform.restore({ platform: 'gnome', data: legacy })
    expect(writes(calls)).toHaveLength(10)
    expect(calls.at(-1)).toBe("gsettings set org.gnome.system.proxy mode 'manual'")
  })
})
