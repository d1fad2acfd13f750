import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CommandError } from '../../../main/sysproxy/command-runner.ts'
import type { CommandOptions, CommandRunner } from '../../../main/sysproxy/command-runner.ts'
import type { OsSnapshot } from '../../../main/sysproxy/types.ts'
import {
  CONNECTIONS_KEY,
  INTERNET_SETTINGS_KEY,
  POWERSHELL_ARGS,
  WININET_REFRESH_SCRIPT,
  buildConnectionSettings,
  createWindowsPlatform,
  formatEndpoint,
  formatProxyServer,
  nextCounter,
  parseBypassList,
  parseConnectionSettings,
  parseEndpoint,
  parseProxyServer,
  parseRegQuery,
  regAddData
} from '../../../main/sysproxy/win32.ts'
import type { RegEntry, WindowsSnapshotData } from '../../../main/sysproxy/win32.ts'

const fixture = (name: string) =>
  readFileSync(path.join(import.meta.dirname, '../../fixtures/sysproxy/windows', name), 'utf8')

const K = INTERNET_SETTINGS_KEY
const C = CONNECTIONS_KEY
const DCS = 'DefaultConnectionSettings'
const QUERY_KEY = ['reg', 'query', K]
const QUERY_DCS = ['reg', 'query', C, '/v', DCS]
const NOTIFY = ['powershell.exe', '-NoProfile', '-NonInteractive', '-Command', WININET_REFRESH_SCRIPT]

/** What `runCommand` rejects with when reg exits 1 with this stderr. */
const regError = (args: string[], stderr: string) =>
  new CommandError(
    /access is denied/i.test(stderr) ? 'permission' : 'failed',
    'reg',
    `reg ${args[0]} failed (exit 1): ${stderr.trim()}`,
    stderr
  )
const NOT_FOUND = fixture('reg-error-not-found.txt')

type Reply = string | Error

/**
 * A `CommandRunner` that answers from a table keyed by [file, ...args] and records every call. Writes
 * (`reg add`/`reg delete`, PowerShell) succeed unless the table says otherwise; anything else unlisted fails.
 */
function fakeRunner(replies: Array<[string[], Reply]>) {
  const table = new Map(replies.map(([command, reply]) => [JSON.stringify(command), reply]))
  const calls: string[][] = []
  const options: Array<CommandOptions | undefined> = []
  const run: CommandRunner = async (file, args, opts) => {
    calls.push([file, ...args])
    options.push(opts)
    const key = JSON.stringify([file, ...args])
    let reply = table.get(key)
    if (reply === undefined && file === 'reg' && (args[0] === 'add' || args[0] === 'delete'))
      reply = fixture('reg-add-success.txt')
    if (reply === undefined && file === 'powershell.exe') reply = ''
    if (reply === undefined) throw new Error(`unexpected command ${key}`)
    if (reply instanceof Error) throw reply
    return { stdout: reply, stderr: '' }
  }
  return { run, calls, options }
}

const add = (key: string, name: string, type: string, data: string) => [
  'reg',
  'add',
  key,
  '/v',
  name,
  '/t',
  type,
  '/d',
  data,
  '/f'
]
const del = (key: string, name: string) => ['reg', 'delete', key, '/v', name, '/f']

/** Builds a blob byte by byte, independently of `buildConnectionSettings`. */
function blobHex(counter: number, flags: number, strings: [string, string, string], trailer: Buffer): string {
  const dword = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n)
    return b
  }
  const parts: Buffer[] = [dword(0x46), dword(counter), dword(flags)]
  for (const s of strings) parts.push(dword(s.length), Buffer.from(s, 'latin1'))
  parts.push(trailer)
  return Buffer.concat(parts).toString('hex').toUpperCase()
}

const blobOf = (fixtureName: string) => {
  const entry = parseRegQuery(fixture(fixtureName))[0]
  if (!entry) throw new Error(`no value in ${fixtureName}`)
  return Buffer.from(entry.data, 'hex')
}

const MANUAL_SERVER =
  'http=proxy.corp.example:3128;https=proxy.corp.example:3128;socks=socks.corp.example:1080'
const MANUAL_TRAILER = Buffer.from('01000000C0A80117020000000000000000000000000000000000000000000000', 'hex')

describe('parseRegQuery', () => {
  it('reads only the value lines of the queried key, not its subkeys', () => {
    const entries = parseRegQuery(fixture('reg-query-internet-settings-manual.txt'))
    expect(entries).toHaveLength(21)
    expect(entries.some((e) => e.name.startsWith('HKEY_') || e.name.includes('\\'))).toBe(false)
    expect(entries).toContainEqual({ name: 'ProxyEnable', type: 'REG_DWORD', data: '0x1' })
    expect(entries).toContainEqual({ name: 'ProxyServer', type: 'REG_SZ', data: MANUAL_SERVER })
    expect(entries).toContainEqual({
      name: 'ProxyOverride',
      type: 'REG_SZ',
      data: '*.corp.example;10.*;<local>'
    })
    // Names and data with spaces, and types other than the five proxy values, parse too.
    expect(entries).toContainEqual({
      name: 'User Agent',
      type: 'REG_SZ',
      data: 'Mozilla/4.0 (compatible; MSIE 8.0; Win32)'
    })
    expect(entries).toContainEqual({ name: 'LockDatabase', type: 'REG_QWORD', data: '0x1db2c4f6a8e0b1c' })
    expect(entries.some((e) => e.data.endsWith('\r'))).toBe(false)
  })

  it('reads an empty REG_SZ value as empty data', () => {
    const entries = parseRegQuery(fixture('reg-query-internet-settings-direct.txt'))
    expect(entries).toContainEqual({ name: 'ProxyServer', type: 'REG_SZ', data: '' })
    expect(entries.find((e) => e.name === 'ProxyOverride')).toBeUndefined()
  })

  it('reads the pac fixture and a single-value query', () => {
    expect(parseRegQuery(fixture('reg-query-internet-settings-pac.txt'))).toContainEqual({
      name: 'AutoConfigURL',
      type: 'REG_SZ',
      data: 'http://wpad.corp.example/proxy.pac'
    })
    for (const name of ['manual', 'pac', 'autodetect']) {
      const entries = parseRegQuery(fixture(`reg-query-connections-${name}.txt`))
      expect(entries).toHaveLength(1)
      expect(entries[0]).toMatchObject({ name: DCS, type: 'REG_BINARY' })
      expect(entries[0]?.data).toMatch(/^[0-9A-F]+$/)
    }
  })

  it('accepts LF line endings as well', () => {
    const lf = fixture('reg-query-internet-settings-manual.txt').replace(/\r\n/g, '\n')
    expect(parseRegQuery(lf)).toEqual(parseRegQuery(fixture('reg-query-internet-settings-manual.txt')))
  })
})

describe('DefaultConnectionSettings', () => {
  it('parses every fixture blob', () => {
    expect(parseConnectionSettings(blobOf('reg-query-connections-manual.txt'))).toEqual({
      version: 0x46,
      counter: 0x1b,
      flags: 0x03,
      proxyServer: MANUAL_SERVER,
      bypass: '*.corp.example;10.*;<local>',
      autoConfigUrl: '',
      trailer: MANUAL_TRAILER
    })
    expect(parseConnectionSettings(blobOf('reg-query-connections-pac.txt'))).toEqual({
      version: 0x46,
      counter: 5,
      flags: 0x0d,
      proxyServer: '127.0.0.1:8888',
      bypass: '<local>',
      autoConfigUrl: 'http://wpad.corp.example/proxy.pac',
      trailer: Buffer.alloc(32)
    })
    expect(parseConnectionSettings(blobOf('reg-query-connections-autodetect.txt'))).toMatchObject({
      counter: 2,
      flags: 0x09,
      proxyServer: '',
      bypass: '',
      autoConfigUrl: ''
    })
  })

  it('builds back every fixture byte for byte', () => {
    for (const name of ['manual', 'pac', 'autodetect']) {
      const original = blobOf(`reg-query-connections-${name}.txt`)
      const parsed = parseConnectionSettings(original)
      expect(buildConnectionSettings(parsed, parsed).equals(original)).toBe(true)
    }
  })

  it('builds from scratch with version 0x46 and 32 zero bytes, and the result parses back', () => {
    const fields = {
      counter: 1,
      flags: 3,
      proxyServer: 'http=127.0.0.1:8080;https=127.0.0.1:8080',
      bypass: '<local>',
      autoConfigUrl: ''
    }
    const built = buildConnectionSettings(fields)
    expect(built.toString('hex').toUpperCase()).toBe(
      blobHex(1, 3, [fields.proxyServer, fields.bypass, ''], Buffer.alloc(32))
    )
    expect(parseConnectionSettings(built)).toEqual({ ...fields, version: 0x46, trailer: Buffer.alloc(32) })
  })

  it('keeps the previous version word and trailing bytes when rebuilding', () => {
    const previous = { ...parseConnectionSettings(blobOf('reg-query-connections-manual.txt')), version: 0x3c }
    const built = parseConnectionSettings(
      buildConnectionSettings(
        { counter: 9, flags: 5, proxyServer: '', bypass: '', autoConfigUrl: 'x' },
        previous
      )
    )
    expect(built).toMatchObject({ version: 0x3c, counter: 9, flags: 5, autoConfigUrl: 'x' })
    expect(built.trailer.equals(MANUAL_TRAILER)).toBe(true)
  })

  it('increments the counter, wrapping at 2^32', () => {
    expect(nextCounter(null)).toBe(1)
    const parsed = parseConnectionSettings(blobOf('reg-query-connections-manual.txt'))
    expect(nextCounter(parsed)).toBe(0x1c)
    expect(nextCounter({ ...parsed, counter: 0xffffffff })).toBe(0)
  })

  it('rejects truncated blobs', () => {
    const whole = blobOf('reg-query-connections-pac.txt')
    expect(() => parseConnectionSettings(whole.subarray(0, 8))).toThrow(/too short/)
    expect(() => parseConnectionSettings(whole.subarray(0, 20))).toThrow(/runs past the end/)
    expect(() => parseConnectionSettings(whole.subarray(0, 14))).toThrow(/ends before/)
  })
})

describe('ProxyServer and ProxyOverride', () => {
  it('reads a single host:port as the proxy for http and https', () => {
    expect(parseProxyServer('127.0.0.1:8888')).toEqual({
      http: { host: '127.0.0.1', port: 8888 },
      https: { host: '127.0.0.1', port: 8888 },
      socks: null
    })
  })

  it('reads per-protocol entries and ignores the ones it does not model', () => {
    expect(parseProxyServer(`${MANUAL_SERVER};ftp=ftp.corp.example:21`)).toEqual({
      http: { host: 'proxy.corp.example', port: 3128 },
      https: { host: 'proxy.corp.example', port: 3128 },
      socks: { host: 'socks.corp.example', port: 1080 }
    })
    expect(parseProxyServer('https=[::1]:8443')).toEqual({
      http: null,
      https: { host: '::1', port: 8443 },
      socks: null
    })
    expect(parseProxyServer('')).toEqual({ http: null, https: null, socks: null })
  })

  it('parses endpoints with schemes, brackets and default ports, and rejects bad ports', () => {
    expect(parseEndpoint('http://proxy:3128/', 80)).toEqual({ host: 'proxy', port: 3128 })
    expect(parseEndpoint('proxy', 80)).toEqual({ host: 'proxy', port: 80 })
    expect(parseEndpoint('[fe80::1]', 1080)).toEqual({ host: 'fe80::1', port: 1080 })
    expect(parseEndpoint('proxy:0', 80)).toBeNull()
    expect(parseEndpoint('proxy:99999', 80)).toBeNull()
    expect(parseEndpoint('proxy:http', 80)).toBeNull()
    expect(formatEndpoint({ host: '::1', port: 8080 })).toBe('[::1]:8080')
  })

  it('formats the ProxyServer value, with socks only when given', () => {
    const manual = {
      mode: 'manual' as const,
      http: { host: '127.0.0.1', port: 8080 },
      https: { host: '127.0.0.1', port: 8080 },
      socks: null,
      bypass: []
    }
    expect(formatProxyServer(manual)).toBe('http=127.0.0.1:8080;https=127.0.0.1:8080')
    expect(formatProxyServer({ ...manual, socks: { host: '127.0.0.1', port: 1080 } })).toBe(
      'http=127.0.0.1:8080;https=127.0.0.1:8080;socks=127.0.0.1:1080'
    )
    expect(parseBypassList('localhost; 127.*;;<local>')).toEqual(['localhost', '127.*', '<local>'])
  })

  it('turns reg query data into reg add data', () => {
    expect(regAddData({ type: 'REG_DWORD', data: '0x1' })).toBe('1')
    expect(regAddData({ type: 'REG_DWORD', data: '0xa80' })).toBe('2688')
    expect(regAddData({ type: 'REG_QWORD', data: '0x1db2c4f6a8e0b1c' })).toBe('133749333539293980')
    expect(regAddData({ type: 'REG_SZ', data: '0x1' })).toBe('0x1')
    expect(regAddData({ type: 'REG_BINARY', data: '4600' })).toBe('4600')
  })
})

function manualMachine() {
  return fakeRunner([
    [QUERY_KEY, fixture('reg-query-internet-settings-manual.txt')],
    [QUERY_DCS, fixture('reg-query-connections-manual.txt')]
  ])
}

describe('createWindowsPlatform', () => {
  it('snapshots the whole key and the connection blob, recording absent values as null', async () => {
    const { run, calls } = manualMachine()
    const snapshot = await createWindowsPlatform(run).snapshot()
    expect(calls).toEqual([QUERY_KEY, QUERY_DCS])
    expect(snapshot).toEqual({
      platform: 'windows',
      data: {
        values: {
          ProxyEnable: { type: 'REG_DWORD', data: '0x1' },
          ProxyServer: { type: 'REG_SZ', data: MANUAL_SERVER },
          ProxyOverride: { type: 'REG_SZ', data: '*.corp.example;10.*;<local>' },
          AutoConfigURL: null,
          AutoDetect: null
        },
        connectionSettings: {
          type: 'REG_BINARY',
          data: parseRegQuery(fixture('reg-query-connections-manual.txt'))[0]?.data
        }
      }
    })
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot)
  })

  it('records a missing DefaultConnectionSettings as absent', async () => {
    const { run } = fakeRunner([
      [QUERY_KEY, fixture('reg-query-internet-settings-direct.txt')],
      [QUERY_DCS, regError(['query'], NOT_FOUND)]
    ])
    const snapshot = await createWindowsPlatform(run).snapshot()
    const data = snapshot.data as WindowsSnapshotData
    expect(data.connectionSettings).toBeNull()
    expect(data.values.ProxyServer).toEqual({ type: 'REG_SZ', data: '' })
    expect(data.values.ProxyOverride).toBeNull()
  })

  it('describes manual, pac, auto-detect and direct settings', async () => {
    const platform = (key: string, dcs: Reply) =>
      createWindowsPlatform(
        fakeRunner([
          [QUERY_KEY, fixture(key)],
          [QUERY_DCS, dcs]
        ]).run
      )
    const manual = platform(
      'reg-query-internet-settings-manual.txt',
      fixture('reg-query-connections-manual.txt')
    )
    expect(manual.view(await manual.snapshot())).toEqual({
      mode: 'manual',
      http: { host: 'proxy.corp.example', port: 3128 },
      https: { host: 'proxy.corp.example', port: 3128 },
      socks: { host: 'socks.corp.example', port: 1080 },
      bypass: ['*.corp.example', '10.*', '<local>'],
      pacUrl: null,
      autoDetect: false
    })
    const pac = platform('reg-query-internet-settings-pac.txt', fixture('reg-query-connections-pac.txt'))
    expect(pac.view(await pac.snapshot())).toEqual({
      mode: 'pac',
      http: null,
      https: null,
      socks: null,
      bypass: [],
      pacUrl: 'http://wpad.corp.example/proxy.pac',
      autoDetect: true
    })
    // The URL alone is not enough: with the blob's auto-proxy flag off, PAC is not in use.
    const pacFlagOff = platform(
      'reg-query-internet-settings-pac.txt',
      fixture('reg-query-connections-autodetect.txt')
    )
    expect(pacFlagOff.view(await pacFlagOff.snapshot())).toMatchObject({ mode: 'auto-detect', pacUrl: null })
    const autoDetect = platform(
      'reg-query-internet-settings-direct.txt',
      fixture('reg-query-connections-autodetect.txt')
    )
    expect(autoDetect.view(await autoDetect.snapshot())).toMatchObject({
      mode: 'auto-detect',
      autoDetect: true
    })
    const direct = platform('reg-query-internet-settings-direct.txt', regError(['query'], NOT_FOUND))
    expect(direct.view(await direct.snapshot())).toEqual({
      mode: 'none',
      http: null,
      https: null,
      socks: null,
      bypass: [],
      pacUrl: null,
      autoDetect: false
    })
  })

  it('refuses to describe another platform’s snapshot', () => {
    const snapshot: OsSnapshot = { platform: 'macos', data: { services: [] } }
    expect(() => createWindowsPlatform(fakeRunner([]).run).view(snapshot)).toThrow(/Not a Windows/)
  })

  it('applies a manual proxy with socks: values, blob with the next counter and kept trailer, one notify', async () => {
    const { run, calls, options } = manualMachine()
    await createWindowsPlatform(run).apply({
      mode: 'manual',
      http: { host: '127.0.0.1', port: 8080 },
      https: { host: '127.0.0.1', port: 8080 },
      socks: { host: '127.0.0.1', port: 1080 },
      bypass: ['localhost', '127.0.0.1', '<local>']
    })
    const server = 'http=127.0.0.1:8080;https=127.0.0.1:8080;socks=127.0.0.1:1080'
    const bypass = 'localhost;127.0.0.1;<local>'
    expect(calls).toEqual([
      QUERY_DCS,
      add(K, 'ProxyEnable', 'REG_DWORD', '1'),
      add(K, 'ProxyServer', 'REG_SZ', server),
      add(K, 'ProxyOverride', 'REG_SZ', bypass),
      del(K, 'AutoConfigURL'),
      add(C, DCS, 'REG_BINARY', blobHex(0x1c, 0x03, [server, bypass, ''], MANUAL_TRAILER)),
      NOTIFY
    ])
    expect(options.at(-1)?.timeoutMs).toBeGreaterThanOrEqual(10_000)
  })

  it('applies a manual proxy without socks, tolerating an AutoConfigURL that is already gone', async () => {
    const { run, calls } = fakeRunner([
      [QUERY_DCS, fixture('reg-query-connections-pac.txt')],
      [del(K, 'AutoConfigURL'), regError(['delete'], NOT_FOUND)]
    ])
    await createWindowsPlatform(run).apply({
      mode: 'manual',
      http: { host: '127.0.0.1', port: 8080 },
      https: { host: '127.0.0.1', port: 8443 },
      socks: null,
      bypass: []
    })
    const server = 'http=127.0.0.1:8080;https=127.0.0.1:8443'
    expect(calls).toEqual([
      QUERY_DCS,
      add(K, 'ProxyEnable', 'REG_DWORD', '1'),
      add(K, 'ProxyServer', 'REG_SZ', server),
      add(K, 'ProxyOverride', 'REG_SZ', ''),
      del(K, 'AutoConfigURL'),
      // Auto-detect (8) goes off with the rest; the old PAC URL text stays in the blob, inactive.
      add(
        C,
        DCS,
        'REG_BINARY',
        blobHex(6, 0x03, [server, '', 'http://wpad.corp.example/proxy.pac'], Buffer.alloc(32))
      ),
      NOTIFY
    ])
  })

  it('applies a PAC URL', async () => {
    const { run, calls } = manualMachine()
    await createWindowsPlatform(run).apply({ mode: 'pac', url: 'http://127.0.0.1:8080/proxy.pac' })
    expect(calls).toEqual([
      QUERY_DCS,
      add(K, 'ProxyEnable', 'REG_DWORD', '0'),
      add(K, 'AutoConfigURL', 'REG_SZ', 'http://127.0.0.1:8080/proxy.pac'),
      add(
        C,
        DCS,
        'REG_BINARY',
        blobHex(
          0x1c,
          0x05,
          [MANUAL_SERVER, '*.corp.example;10.*;<local>', 'http://127.0.0.1:8080/proxy.pac'],
          MANUAL_TRAILER
        )
      ),
      NOTIFY
    ])
  })

  it('builds the blob from scratch when there was none', async () => {
    const { run, calls } = fakeRunner([[QUERY_DCS, regError(['query'], NOT_FOUND)]])
    await createWindowsPlatform(run).apply({ mode: 'pac', url: 'http://127.0.0.1:8080/proxy.pac' })
    expect(calls[3]).toEqual(
      add(
        C,
        DCS,
        'REG_BINARY',
        blobHex(1, 0x05, ['', '', 'http://127.0.0.1:8080/proxy.pac'], Buffer.alloc(32))
      )
    )
  })

  it('restores exactly: re-adds present values (binary unchanged), deletes absent ones, notifies', async () => {
    const snap = manualMachine()
    const snapshot = await createWindowsPlatform(snap.run).snapshot()
    // Restore from the JSON form, as a persisted snapshot would be.
    const { run, calls } = fakeRunner([
      [del(K, 'AutoConfigURL'), regError(['delete'], NOT_FOUND)],
      [del(K, 'AutoDetect'), regError(['delete'], NOT_FOUND)]
    ])
    await createWindowsPlatform(run).restore(JSON.parse(JSON.stringify(snapshot)) as OsSnapshot)
    const originalBlob = parseRegQuery(fixture('reg-query-connections-manual.txt'))[0]?.data ?? ''
    expect(calls).toEqual([
      add(K, 'ProxyEnable', 'REG_DWORD', '1'),
      add(K, 'ProxyServer', 'REG_SZ', MANUAL_SERVER),
      add(K, 'ProxyOverride', 'REG_SZ', '*.corp.example;10.*;<local>'),
      del(K, 'AutoConfigURL'),
      del(K, 'AutoDetect'),
      add(C, DCS, 'REG_BINARY', originalBlob),
      NOTIFY
    ])
  })

  it('restores a pac machine and deletes a blob that did not exist', async () => {
    const snap = fakeRunner([
      [QUERY_KEY, fixture('reg-query-internet-settings-pac.txt')],
      [QUERY_DCS, regError(['query'], NOT_FOUND)]
    ])
    const platform = createWindowsPlatform(snap.run)
    const snapshot = await platform.snapshot()
    const { run, calls } = fakeRunner([])
    await createWindowsPlatform(run).restore(snapshot)
    expect(calls).toEqual([
      add(K, 'ProxyEnable', 'REG_DWORD', '0'),
      add(K, 'ProxyServer', 'REG_SZ', '127.0.0.1:8888'),
      add(K, 'ProxyOverride', 'REG_SZ', '<local>'),
      add(K, 'AutoConfigURL', 'REG_SZ', 'http://wpad.corp.example/proxy.pac'),
      add(K, 'AutoDetect', 'REG_DWORD', '1'),
      del(C, DCS),
      NOTIFY
    ])
  })

  it('keeps restoring after a failed step and then reports the first failure', async () => {
    const snapshot = await createWindowsPlatform(manualMachine().run).snapshot()
    const denied = regError(['add'], fixture('reg-error-access-denied.txt'))
    const { run, calls } = fakeRunner([[add(K, 'ProxyServer', 'REG_SZ', MANUAL_SERVER), denied]])
    await expect(createWindowsPlatform(run).restore(snapshot)).rejects.toBe(denied)
    expect(calls).toHaveLength(7)
    expect(calls.at(-1)).toEqual(NOTIFY)
  })

  it('propagates a missing reg unchanged, from snapshot, apply and restore', async () => {
    const missing = new CommandError('missing', 'reg', 'reg was not found: is it installed and on PATH?')
    const { run, calls } = fakeRunner([
      [QUERY_KEY, missing],
      [QUERY_DCS, missing],
      [add(K, 'ProxyEnable', 'REG_DWORD', '1'), missing]
    ])
    const platform = createWindowsPlatform(run)
    await expect(platform.snapshot()).rejects.toBe(missing)
    await expect(platform.apply({ mode: 'pac', url: 'http://x/p.pac' })).rejects.toBe(missing)
    const snapshot = await createWindowsPlatform(manualMachine().run).snapshot()
    calls.length = 0
    await expect(platform.restore(snapshot)).rejects.toBe(missing)
    expect(calls).toEqual([add(K, 'ProxyEnable', 'REG_DWORD', '1')])
  })

  it('propagates a missing powershell.exe after writing the registry', async () => {
    const missing = new CommandError('missing', 'powershell.exe', 'powershell.exe was not found')
    const { run, calls } = fakeRunner([
      [QUERY_DCS, fixture('reg-query-connections-manual.txt')],
      [NOTIFY, missing]
    ])
    await expect(createWindowsPlatform(run).apply({ mode: 'pac', url: 'http://x/p.pac' })).rejects.toBe(
      missing
    )
    expect(calls.at(-1)).toEqual(NOTIFY)
  })

  it('reports "Access is denied." as a permission failure', async () => {
    const denied = regError(['add'], fixture('reg-error-access-denied.txt'))
    const { run } = fakeRunner([
      [QUERY_DCS, fixture('reg-query-connections-manual.txt')],
      [add(K, 'ProxyEnable', 'REG_DWORD', '0'), denied]
    ])
    await expect(
      createWindowsPlatform(run).apply({ mode: 'pac', url: 'http://x/p.pac' })
    ).rejects.toMatchObject({
      failure: 'permission'
    })
  })

  it('notifies WinINet with a double-quote-free PowerShell snippet calling options 39 then 37', () => {
    expect(POWERSHELL_ARGS.slice(0, 3)).toEqual(['-NoProfile', '-NonInteractive', '-Command'])
    expect(WININET_REFRESH_SCRIPT).not.toContain('"')
    expect(WININET_REFRESH_SCRIPT).toContain('Add-Type')
    expect(WININET_REFRESH_SCRIPT).toContain('wininet.dll')
    expect(WININET_REFRESH_SCRIPT.indexOf('[IntPtr]::Zero, 39,')).toBeLessThan(
      WININET_REFRESH_SCRIPT.indexOf('[IntPtr]::Zero, 37,')
    )
  })
})

/**
 * The registry as a stateful machine, seeded from recorded `reg query` output (every value of the
 * key, not only the proxy ones): `reg query/add/delete` read and change it, printing what reg.exe
 * prints. A restore is judged by the whole registry it leaves, not by the commands it sends.
 */
function fakeRegistry(seed: Record<string, string>) {
  const keys = new Map<string, Map<string, RegEntry>>()
  for (const [key, text] of Object.entries(seed))
    keys.set(key, new Map(parseRegQuery(text).map((e) => [e.name.toLowerCase(), e])))
  const valuesOf = (key: string) => keys.get(key) ?? keys.set(key, new Map()).get(key)!
  const line = (e: RegEntry) => `    ${e.name}    ${e.type}    ${e.data}`
  const print = (key: string, entries: RegEntry[]) =>
    ['', key.replace(/^HKCU\\/, 'HKEY_CURRENT_USER\\'), ...entries.map(line), '', ''].join('\r\n')
  const run: CommandRunner = async (file, args) => {
    if (file === 'powershell.exe') return { stdout: '', stderr: '' }
    const [verb, key = '', ...rest] = args
    const name = rest[0] === '/v' ? rest[1]! : null
    const values = valuesOf(key)
    const found = name === null ? null : (values.get(name.toLowerCase()) ?? null)
    if (name !== null && !found && verb !== 'add') throw regError([verb!], NOT_FOUND)
    switch (verb) {
      case 'query':
        return { stdout: print(key, found ? [found] : [...values.values()]), stderr: '' }
      case 'add': {
        const type = rest[rest.indexOf('/t') + 1]!
        const data = rest[rest.indexOf('/d') + 1]!
        // reg query prints DWORD/QWORD data as 0x-prefixed lower-case hex.
        const shown = type === 'REG_DWORD' || type === 'REG_QWORD' ? `0x${BigInt(data).toString(16)}` : data
        values.set(name!.toLowerCase(), { name: found?.name ?? name!, type, data: shown })
        return { stdout: fixture('reg-add-success.txt'), stderr: '' }
      }
      case 'delete':
        values.delete(name!.toLowerCase())
        return { stdout: fixture('reg-add-success.txt'), stderr: '' }
    }
    throw new Error(`unexpected command ${JSON.stringify([file, ...args])}`)
  }
  /** Every key's values, by name, as reg query would print them. */
  const state = () =>
    Object.fromEntries(
      [...keys].map(([key, values]) => [
        key,
        Object.fromEntries([...values.values()].map((e) => [e.name, `${e.type} ${e.data}`]))
      ])
    )
  return { run, state }
}

describe('restore, judged by the whole registry', () => {
  const machines = {
    manual: {
      [K]: fixture('reg-query-internet-settings-manual.txt'),
      [C]: fixture('reg-query-connections-manual.txt')
    },
    pac: { [K]: fixture('reg-query-internet-settings-pac.txt'), [C]: '' },
    direct: {
      [K]: fixture('reg-query-internet-settings-direct.txt'),
      [C]: fixture('reg-query-connections-autodetect.txt')
    }
  }
  const desires = {
    manual: {
      mode: 'manual' as const,
      http: { host: '127.0.0.1', port: 8080 },
      https: { host: '127.0.0.1', port: 8080 },
      socks: null,
      bypass: ['localhost', '127.*', '<local>']
    },
    pac: { mode: 'pac' as const, url: 'http://127.0.0.1:8080/proxy.pac' }
  }

  it.each(
    Object.keys(machines).flatMap((machine) => Object.keys(desires).map((desired) => [machine, desired]))
  )('a %s machine, Junction in %s mode: every value of both keys is back', async (machine, desired) => {
    const registry = fakeRegistry(machines[machine as keyof typeof machines])
    const before = registry.state()
    const platform = createWindowsPlatform(registry.run)
    const snapshot = await platform.snapshot()
    await platform.apply(desires[desired as keyof typeof desires])
    expect(registry.state()).not.toEqual(before)
    await platform.restore(JSON.parse(JSON.stringify(snapshot)) as OsSnapshot)
    expect(registry.state()).toEqual(before)
  })

  it('the stateful fake prints what the recorded reg query output holds', async () => {
    const registry = fakeRegistry(machines.manual)
    expect(parseRegQuery((await registry.run('reg', ['query', K])).stdout)).toEqual(
      parseRegQuery(fixture('reg-query-internet-settings-manual.txt'))
    )
    expect((await registry.run('reg', ['query', C, '/v', DCS])).stdout).toBe(
      fixture('reg-query-connections-manual.txt')
    )
  })
})
