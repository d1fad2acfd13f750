import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CommandError, runCommand } from '../../../main/sysproxy/command-runner.ts'
import type { CommandRunner } from '../../../main/sysproxy/command-runner.ts'
import { failsOnRegExp } from '../../../main/sysproxy/restore-plan.ts'
import type { DesiredProxy, OsSnapshot } from '../../../main/sysproxy/types.ts'
import {
  NETWORKSETUP,
  buildApplyCommands,
  buildRestoreCommands,
  createMacPlatform,
  networksetupOutputError,
  parseAutoDiscovery,
  parseAutoProxyUrl,
  parseBypassDomains,
  parseNetworkServices,
  parseProxyServerOutput,
  NETWORKSETUP_FAILS,
  macRestorePlan,
  parseScutilProxy
} from '../../../main/sysproxy/darwin.ts'
import type { MacProxyServer, MacServiceSettings, MacSnapshotData } from '../../../main/sysproxy/darwin.ts'

const fixture = (name: string) =>
  readFileSync(path.join(import.meta.dirname, '../../fixtures/sysproxy/macos', name), 'utf8')

const WIFI = 'Wi-Fi'
const LAN = 'USB 10/100/1000 LAN'

type Reply = string | Error | { stdout: string; stderr?: string }

/**
 * A `CommandRunner` that answers networksetup from a table keyed by its arguments and records every call.
 * `-set…` commands succeed silently unless the table says otherwise; any other unlisted command fails.
 */
function fakeRunner(replies: Array<[string[], Reply]>) {
  const table = new Map(replies.map(([args, reply]) => [JSON.stringify(args), reply]))
  const calls: string[][] = []
  const run: CommandRunner = async (file, args) => {
    calls.push([...args])
    if (file !== NETWORKSETUP) throw new Error(`unexpected program ${file}`)
    let reply = table.get(JSON.stringify(args))
    if (reply === undefined && args[0]?.startsWith('-set')) reply = ''
    if (reply === undefined) throw new Error(`unexpected command ${JSON.stringify(args)}`)
    if (reply instanceof Error) throw reply
    return typeof reply === 'string' ? { stdout: reply, stderr: '' } : { stderr: '', ...reply }
  }
  return { run, calls }
}

/**
 * networksetup as a stateful machine: each service's settings, changed by `-set…` and printed by
 * `-get…` in the recorded format (the last test of this file checks it against the fixtures), so a
 * restore is judged by the settings it leaves, not by the commands it sends.
 */
function fakeNetworksetup(initial: MacServiceSettings[]) {
  const services = structuredClone(initial)
  const find = (name: string | undefined) => {
    const service = services.find((s) => s.name === name)
    if (!service) throw new Error(`no service ${name}`)
    return service
  }
  const proxyOf = (service: MacServiceSettings, command: string): MacProxyServer =>
    command.includes('secureweb') ? service.secure : command.includes('socks') ? service.socks : service.web
  const yesNo = (on: boolean) => (on ? 'Yes' : 'No')
  const run: CommandRunner = async (_file, args) => {
    const [command = '', name, ...rest] = args
    const reply = (stdout: string) => ({ stdout, stderr: '' })
    if (command === '-listallnetworkservices') return reply(fixture('listallnetworkservices.txt'))
    const service = find(name)
    switch (command) {
      case '-getwebproxy':
      case '-getsecurewebproxy':
      case '-getsocksfirewallproxy': {
        const p = proxyOf(service, command)
        return reply(
          `Enabled: ${yesNo(p.enabled)}\nServer: ${p.server}\nPort: ${p.port}\nAuthenticated Proxy Enabled: ${p.authenticated ? 1 : 0}\n`
        )
      }
      case '-setwebproxy':
      case '-setsecurewebproxy':
      case '-setsocksfirewallproxy': {
        const p = proxyOf(service, command)
        const [server = '', port = '', authenticated] = rest
        Object.assign(p, { server, port: Number(port), enabled: true })
        if (authenticated !== undefined) p.authenticated = authenticated === 'on'
        return reply('')
      }
      case '-setwebproxystate':
      case '-setsecurewebproxystate':
      case '-setsocksfirewallproxystate':
        proxyOf(service, command).enabled = rest[0] === 'on'
        return reply('')
      case '-getproxybypassdomains':
        return reply(
          service.bypass.length > 0
            ? `${service.bypass.join('\n')}\n`
            : `There aren't any bypass domains set on ${service.name}.\n`
        )
      case '-setproxybypassdomains':
        service.bypass = rest[0] === 'Empty' ? [] : rest
        return reply('')
      case '-getautoproxyurl':
        return reply(
          `URL: ${service.autoProxyUrl ?? '(null)'}\nEnabled: ${yesNo(service.autoProxyEnabled)}\n`
        )
      case '-setautoproxyurl':
        Object.assign(service, { autoProxyUrl: rest[0] || null, autoProxyEnabled: true })
        return reply('')
      case '-setautoproxystate':
        service.autoProxyEnabled = rest[0] === 'on'
        return reply('')
      case '-getproxyautodiscovery':
        return reply(`Auto Proxy Discovery: ${service.autoDiscovery ? 'On' : 'Off'}\n`)
      case '-setproxyautodiscovery':
        service.autoDiscovery = rest[0] === 'on'
        return reply('')
    }
    throw new Error(`unexpected command ${JSON.stringify(args)}`)
  }
  return { run, services }
}

/** Wi-Fi with manual proxies and an inactive PAC URL, a disabled Bluetooth PAN, a LAN with nothing set but WPAD. */
const OFFICE: Array<[string[], Reply]> = [
  [['-listallnetworkservices'], fixture('listallnetworkservices.txt')],
  [['-getwebproxy', WIFI], fixture('getwebproxy-enabled.txt')],
  [['-getsecurewebproxy', WIFI], fixture('getsecurewebproxy-enabled.txt')],
  [['-getsocksfirewallproxy', WIFI], fixture('getsocksfirewallproxy-disabled-with-server.txt')],
  [['-getproxybypassdomains', WIFI], fixture('getproxybypassdomains-list.txt')],
  [['-getautoproxyurl', WIFI], fixture('getautoproxyurl-set-disabled.txt')],
  [['-getproxyautodiscovery', WIFI], fixture('getproxyautodiscovery-off.txt')],
  [['-getwebproxy', LAN], fixture('getproxy-disabled-never-set.txt')],
  [['-getsecurewebproxy', LAN], fixture('getproxy-disabled-never-set.txt')],
  [['-getsocksfirewallproxy', LAN], fixture('getproxy-disabled-never-set.txt')],
  [['-getproxybypassdomains', LAN], fixture('getproxybypassdomains-none.txt')],
  [['-getautoproxyurl', LAN], fixture('getautoproxyurl-null.txt')],
  [['-getproxyautodiscovery', LAN], fixture('getproxyautodiscovery-on.txt')]
]

const NEVER_SET = { enabled: false, server: '', port: 0, authenticated: false }
const OFFICE_WIFI: MacServiceSettings = {
  name: WIFI,
  web: { enabled: true, server: 'proxy.corp.example', port: 3128, authenticated: false },
  secure: { enabled: true, server: 'proxy.corp.example', port: 3129, authenticated: true },
  socks: { enabled: false, server: '127.0.0.1', port: 1080, authenticated: false },
  bypass: ['*.local', '169.254/16', '*.corp.example'],
  autoProxyUrl: 'http://old.corp.example/proxy.pac',
  autoProxyEnabled: false,
  autoDiscovery: false
}
const OFFICE_LAN: MacServiceSettings = {
  name: LAN,
  // Three objects: structuredClone keeps shared references, and the fake would then set all three at once.
  web: { ...NEVER_SET },
  secure: { ...NEVER_SET },
  socks: { ...NEVER_SET },
  bypass: [],
  autoProxyUrl: null,
  autoProxyEnabled: false,
  autoDiscovery: true
}

const snapshotCommands = (service: string) => [
  ['-getwebproxy', service],
  ['-getsecurewebproxy', service],
  ['-getsocksfirewallproxy', service],
  ['-getproxybypassdomains', service],
  ['-getautoproxyurl', service],
  ['-getproxyautodiscovery', service]
]

const MANUAL = {
  mode: 'manual' as const,
  http: { host: '127.0.0.1', port: 8080 },
  https: { host: '127.0.0.1', port: 8080 },
  socks: { host: '127.0.0.1', port: 1080 },
  bypass: ['localhost', '127.0.0.1', '*.local']
}

const PAC = { mode: 'pac' as const, url: 'http://127.0.0.1:8080/proxy.pac' }

const adminError = (args: string[]) =>
  new CommandError(
    'permission',
    NETWORKSETUP,
    `${NETWORKSETUP} ${args[0]} failed (exit 14): ${fixture('error-admin-privileges.txt').trim()}`
  )

describe('networksetup parsers', () => {
  it('lists services, marking the asterisked one disabled and skipping the header', () => {
    expect(parseNetworkServices(fixture('listallnetworkservices.txt'))).toEqual([
      { name: WIFI, enabled: true },
      { name: 'Bluetooth PAN', enabled: false },
      { name: LAN, enabled: true }
    ])
  })

  it('reads enabled, disabled and never-set proxies', () => {
    expect(parseProxyServerOutput(fixture('getwebproxy-enabled.txt'))).toEqual(OFFICE_WIFI.web)
    expect(parseProxyServerOutput(fixture('getsecurewebproxy-enabled.txt'))).toEqual(OFFICE_WIFI.secure)
    expect(parseProxyServerOutput(fixture('getsocksfirewallproxy-disabled-with-server.txt'))).toEqual(
      OFFICE_WIFI.socks
    )
    expect(parseProxyServerOutput(fixture('getproxy-disabled-never-set.txt'))).toEqual(NEVER_SET)
  })

  it('refuses proxy output it does not understand rather than guessing', () => {
    expect(() => parseProxyServerOutput('Enabled: Maybe\nServer: x\nPort: 1\n')).toThrow(
      /unexpected proxy state/
    )
    expect(() => parseProxyServerOutput('Enabled: Yes\nServer: x\n')).toThrow(/unexpected proxy port/)
    expect(() => parseAutoDiscovery('')).toThrow(/auto proxy discovery/)
  })

  it('reads bypass lists, present and absent', () => {
    expect(parseBypassDomains(fixture('getproxybypassdomains-list.txt'))).toEqual(OFFICE_WIFI.bypass)
    expect(parseBypassDomains(fixture('getproxybypassdomains-none.txt'))).toEqual([])
  })

  it('reads the auto proxy URL: null, set and on, set but off', () => {
    expect(parseAutoProxyUrl(fixture('getautoproxyurl-null.txt'))).toEqual({ url: null, enabled: false })
    expect(parseAutoProxyUrl(fixture('getautoproxyurl-set.txt'))).toEqual({
      url: 'http://wpad.corp.example:8080/proxy.pac',
      enabled: true
    })
    expect(parseAutoProxyUrl(fixture('getautoproxyurl-set-disabled.txt'))).toEqual({
      url: 'http://old.corp.example/proxy.pac',
      enabled: false
    })
  })

  it('reads auto proxy discovery', () => {
    expect(parseAutoDiscovery(fixture('getproxyautodiscovery-on.txt'))).toBe(true)
    expect(parseAutoDiscovery(fixture('getproxyautodiscovery-off.txt'))).toBe(false)
  })

  it('recognises error lines, telling admin-rights errors apart', () => {
    expect(networksetupOutputError(['-setwebproxy'], fixture('error-admin-privileges.txt'))).toMatchObject({
      failure: 'permission',
      message: expect.stringMatching(/needs administrator rights/)
    })
    expect(
      networksetupOutputError(['-setwebproxy'], 'You cannot set the proxy on Wi-Fi (Permission denied)\n')
    ).toMatchObject({ failure: 'permission' })
    expect(networksetupOutputError(['-getwebproxy'], fixture('error-invalid-service.txt'))).toMatchObject({
      failure: 'failed',
      message: 'networksetup -getwebproxy failed: ** Error: The parameters were not valid.'
    })
    expect(networksetupOutputError(['-getwebproxy'], fixture('getwebproxy-enabled.txt'))).toBeNull()
  })
})

describe('parseScutilProxy', () => {
  it('reads manual proxies and exceptions, ignoring the __SCOPED__ copies', () => {
    expect(parseScutilProxy(fixture('scutil-proxy-manual.txt'))).toEqual({
      mode: 'manual',
      http: { host: 'proxy.corp.example', port: 3128 },
      https: { host: 'proxy.corp.example', port: 3129 },
      socks: null,
      bypass: ['*.local', '169.254/16', '*.corp.example'],
      pacUrl: null,
      autoDetect: false
    })
  })

  it('reads a PAC configuration', () => {
    expect(parseScutilProxy(fixture('scutil-proxy-pac.txt'))).toEqual({
      mode: 'pac',
      http: null,
      https: null,
      socks: null,
      bypass: [],
      pacUrl: 'http://wpad.corp.example:8080/proxy.pac',
      autoDetect: false
    })
  })

  it('reads no proxy even when a scoped interface has one', () => {
    expect(parseScutilProxy(fixture('scutil-proxy-none.txt'))).toEqual({
      mode: 'none',
      http: null,
      https: null,
      socks: null,
      bypass: [],
      pacUrl: null,
      autoDetect: false
    })
    expect(parseScutilProxy('<dictionary> {\n}\n').mode).toBe('none')
  })

  it('reads SOCKS with an IPv6 host and WPAD', () => {
    expect(parseScutilProxy(fixture('scutil-proxy-socks-wpad.txt'))).toEqual({
      mode: 'manual',
      http: null,
      https: null,
      socks: { host: '::1', port: 1080 },
      bypass: ['localhost'],
      pacUrl: null,
      autoDetect: true
    })
  })
})

describe('createMacPlatform', () => {
  it('snapshots every enabled service in list order, skipping the disabled one', async () => {
    const { run, calls } = fakeRunner(OFFICE)
    const snapshot = await createMacPlatform(run).snapshot()
    expect(calls).toEqual([['-listallnetworkservices'], ...snapshotCommands(WIFI), ...snapshotCommands(LAN)])
    expect(snapshot).toEqual({ platform: 'macos', data: { services: [OFFICE_WIFI, OFFICE_LAN] } })
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot)
  })

  it('describes the first enabled service', async () => {
    const platform = createMacPlatform(fakeRunner(OFFICE).run)
    expect(platform.view(await platform.snapshot())).toEqual({
      mode: 'manual',
      http: { host: 'proxy.corp.example', port: 3128 },
      https: { host: 'proxy.corp.example', port: 3129 },
      socks: null,
      bypass: ['*.local', '169.254/16', '*.corp.example'],
      pacUrl: null,
      autoDetect: false
    })
  })

  it('describes PAC and WPAD services, and a machine without services', () => {
    const platform = createMacPlatform(fakeRunner([]).run)
    const pacService = { ...OFFICE_LAN, autoProxyUrl: 'http://wpad/p.pac', autoProxyEnabled: true }
    const view = (services: MacServiceSettings[]) =>
      platform.view({ platform: 'macos', data: { services } satisfies MacSnapshotData })
    expect(view([pacService, OFFICE_WIFI])).toMatchObject({
      mode: 'pac',
      pacUrl: 'http://wpad/p.pac',
      autoDetect: true
    })
    expect(view([OFFICE_LAN])).toMatchObject({ mode: 'auto-detect', http: null, bypass: [] })
    expect(view([])).toEqual({
      mode: 'none',
      http: null,
      https: null,
      socks: null,
      bypass: [],
      pacUrl: null,
      autoDetect: false
    })
    const windows: OsSnapshot = { platform: 'windows', data: {} }
    expect(() => platform.view(windows)).toThrow(/Not a macOS/)
  })

  it('applies a manual proxy with socks to every enabled service', async () => {
    const { run, calls } = fakeRunner(OFFICE)
    await createMacPlatform(run).apply(MANUAL)
    const forService = (s: string) => [
      ['-setwebproxy', s, '127.0.0.1', '8080', 'off'],
      ['-setsecurewebproxy', s, '127.0.0.1', '8080', 'off'],
      ['-setsocksfirewallproxy', s, '127.0.0.1', '1080', 'off'],
      ['-setproxybypassdomains', s, 'localhost', '127.0.0.1', '*.local'],
      ['-setautoproxystate', s, 'off'],
      ['-setproxyautodiscovery', s, 'off']
    ]
    expect(calls).toEqual([['-listallnetworkservices'], ...forService(WIFI), ...forService(LAN)])
  })

  it('applies a manual proxy without socks and with an empty bypass list', async () => {
    const { run, calls } = fakeRunner(OFFICE)
    await createMacPlatform(run).apply({
      ...MANUAL,
      https: { host: '127.0.0.1', port: 8443 },
      socks: null,
      bypass: []
    })
    expect(calls.slice(0, 7)).toEqual([
      ['-listallnetworkservices'],
      ['-setwebproxy', WIFI, '127.0.0.1', '8080', 'off'],
      ['-setsecurewebproxy', WIFI, '127.0.0.1', '8443', 'off'],
      ['-setsocksfirewallproxystate', WIFI, 'off'],
      ['-setproxybypassdomains', WIFI, 'Empty'],
      ['-setautoproxystate', WIFI, 'off'],
      ['-setproxyautodiscovery', WIFI, 'off']
    ])
    expect(calls).toHaveLength(13)
  })

  it('applies a PAC URL', async () => {
    const { run, calls } = fakeRunner(OFFICE)
    await createMacPlatform(run).apply({ mode: 'pac', url: 'http://127.0.0.1:8080/proxy.pac' })
    const forService = (s: string) => [
      ['-setautoproxyurl', s, 'http://127.0.0.1:8080/proxy.pac'],
      ['-setautoproxystate', s, 'on'],
      ['-setwebproxystate', s, 'off'],
      ['-setsecurewebproxystate', s, 'off'],
      ['-setsocksfirewallproxystate', s, 'off'],
      ['-setproxyautodiscovery', s, 'off']
    ]
    expect(calls).toEqual([['-listallnetworkservices'], ...forService(WIFI), ...forService(LAN)])
    expect(buildApplyCommands([WIFI, LAN], { mode: 'pac', url: 'http://127.0.0.1:8080/proxy.pac' })).toEqual(
      calls.slice(1)
    )
  })

  it('restores every field of every service, authentication included, emptying never-set proxies', async () => {
    const snapshot = await createMacPlatform(fakeRunner(OFFICE).run).snapshot()
    // What Junction applied is unknown (a journal from an older version), so every never-set proxy
    // is emptied; nothing is read.
    const { run, calls } = fakeRunner([])
    await createMacPlatform(run).restore(JSON.parse(JSON.stringify(snapshot)) as OsSnapshot)
    const emptied = (set: string, state: string) => [
      [set, LAN, '', '0', 'off'],
      [state, LAN, 'off']
    ]
    expect(calls).toEqual([
      ['-setwebproxy', WIFI, 'proxy.corp.example', '3128', 'off'],
      ['-setwebproxystate', WIFI, 'on'],
      ['-setsecurewebproxy', WIFI, 'proxy.corp.example', '3129', 'on'],
      ['-setsecurewebproxystate', WIFI, 'on'],
      ['-setsocksfirewallproxy', WIFI, '127.0.0.1', '1080', 'off'],
      ['-setsocksfirewallproxystate', WIFI, 'off'],
      ['-setproxybypassdomains', WIFI, '*.local', '169.254/16', '*.corp.example'],
      ['-setautoproxyurl', WIFI, 'http://old.corp.example/proxy.pac'],
      ['-setautoproxystate', WIFI, 'off'],
      ['-setproxyautodiscovery', WIFI, 'off'],
      ...emptied('-setwebproxy', '-setwebproxystate'),
      ...emptied('-setsecurewebproxy', '-setsecurewebproxystate'),
      ...emptied('-setsocksfirewallproxy', '-setsocksfirewallproxystate'),
      ['-setproxybypassdomains', LAN, 'Empty'],
      ['-setautoproxyurl', LAN, ''],
      ['-setautoproxystate', LAN, 'off'],
      ['-setproxyautodiscovery', LAN, 'on']
    ])
    expect(buildRestoreCommands(snapshot.data as MacSnapshotData)).toEqual(calls)
  })

  it('empties again only what Junction set: a never-set proxy or URL it did not write is left never set', async () => {
    const snapshot = await createMacPlatform(fakeRunner(OFFICE).run).snapshot()
    const forLan = (applied: DesiredProxy[]) =>
      macRestorePlan(snapshot, applied)
        .steps.map((step) => ('command' in step ? step.command.slice(1) : []))
        .filter((args) => args[1] === LAN)
    const off = (state: string) => [state, LAN, 'off']
    const emptied = (set: string, state: string) => [[set, LAN, '', '0', 'off'], off(state)]
    const tail = [
      ['-setautoproxystate', LAN, 'off'],
      ['-setproxyautodiscovery', LAN, 'on']
    ]
    const bypass = ['-setproxybypassdomains', LAN, 'Empty']
    expect(forLan([PAC])).toEqual([
      off('-setwebproxystate'),
      off('-setsecurewebproxystate'),
      off('-setsocksfirewallproxystate'),
      bypass,
      ['-setautoproxyurl', LAN, ''],
      ...tail
    ])
    expect(forLan([{ ...MANUAL, socks: null }])).toEqual([
      ...emptied('-setwebproxy', '-setwebproxystate'),
      ...emptied('-setsecurewebproxy', '-setsecurewebproxystate'),
      off('-setsocksfirewallproxystate'),
      bypass,
      ...tail
    ])
    expect(forLan([MANUAL, PAC])).toEqual([
      ...emptied('-setwebproxy', '-setwebproxystate'),
      ...emptied('-setsecurewebproxy', '-setsecurewebproxystate'),
      ...emptied('-setsocksfirewallproxy', '-setsocksfirewallproxystate'),
      bypass,
      ['-setautoproxyurl', LAN, ''],
      ...tail
    ])
  })

  it.each([
    ['manual with socks', MANUAL],
    ['manual without socks', { ...MANUAL, socks: null }],
    ['PAC', { mode: 'pac' as const, url: 'http://127.0.0.1:8080/proxy.pac' }]
  ])('%s: apply then restore leaves every service exactly as it was', async (_, desired) => {
    const mac = fakeNetworksetup([OFFICE_WIFI, OFFICE_LAN])
    const platform = createMacPlatform(mac.run)
    const before = structuredClone(mac.services)
    const snapshot = await platform.snapshot()
    await platform.apply(desired)
    expect(mac.services).not.toEqual(before)
    await platform.restore(JSON.parse(JSON.stringify(snapshot)) as OsSnapshot, [desired])
    expect(mac.services).toEqual(before)
    expect(await platform.snapshot()).toEqual(snapshot)
  })

  it.each([
    ['manual with socks', [MANUAL]],
    ['manual without socks', [{ ...MANUAL, socks: null }]],
    ['PAC', [PAC]],
    ['manual, then PAC', [MANUAL, PAC]]
  ])(
    '%s: restore reads nothing, sends exactly the watchdog plan, and leaves every service as it was',
    async (_, applied: DesiredProxy[]) => {
      const mac = fakeNetworksetup([OFFICE_WIFI, OFFICE_LAN])
      const platform = createMacPlatform(mac.run)
      const before = structuredClone(mac.services)
      const snapshot = JSON.parse(JSON.stringify(await platform.snapshot())) as OsSnapshot
      for (const desired of applied) await platform.apply(desired)
      const sent: string[][] = []
      const recording: CommandRunner = async (file, args) => (sent.push([file, ...args]), mac.run(file, args))
      await createMacPlatform(recording).restore(snapshot, applied)
      expect(mac.services).toEqual(before)
      expect(sent).toEqual(
        platform.restorePlan!(snapshot, applied).steps.map((s) => 'command' in s && s.command)
      )
      expect(sent.filter((args) => !args[1]!.startsWith('-set'))).toEqual([])
    }
  )

  it("the plan's error pattern means the same to JavaScript and to grep -iE", async () => {
    const failing = ['error-admin-privileges.txt', 'error-invalid-service.txt']
    const fine = ['getwebproxy-enabled.txt', 'getautoproxyurl-set-disabled.txt', 'listallnetworkservices.txt']
    for (const name of [...failing, ...fine]) {
      const text = fixture(name)
      const grep = await runCommand('sh', [
        '-c',
        'printf "%s\\n" "$1" | grep -qiE -- "$2"',
        'sh',
        text,
        NETWORKSETUP_FAILS
      ]).then(
        () => true,
        () => false
      )
      expect([name, failsOnRegExp(NETWORKSETUP_FAILS).test(text), grep]).toEqual([
        name,
        failing.includes(name),
        failing.includes(name)
      ])
    }
  })

  it('the stateful fake prints exactly the recorded networksetup output', async () => {
    const mac = fakeNetworksetup([OFFICE_WIFI, OFFICE_LAN])
    for (const [args, reply] of OFFICE) expect((await mac.run(NETWORKSETUP, args)).stdout).toBe(reply)
  })

  it('turns an admin-rights message printed with exit 0 into a permission error', async () => {
    const { run, calls } = fakeRunner([
      ...OFFICE,
      [['-setwebproxy', WIFI, '127.0.0.1', '8080', 'off'], fixture('error-admin-privileges.txt')]
    ])
    const failure = createMacPlatform(run).apply(MANUAL)
    await expect(failure).rejects.toBeInstanceOf(CommandError)
    await expect(failure).rejects.toMatchObject({
      failure: 'permission',
      command: NETWORKSETUP,
      message: expect.stringMatching(/needs administrator rights .*requires admin privileges/)
    })
    // Apply stops at the first refusal.
    expect(calls.at(-1)).toEqual(['-setwebproxy', WIFI, '127.0.0.1', '8080', 'off'])
  })

  it('also recognises the error on stderr and from a non-zero exit', async () => {
    const onStderr = fakeRunner([
      ...OFFICE,
      [
        ['-setautoproxyurl', WIFI, 'http://x/p.pac'],
        { stdout: '', stderr: fixture('error-admin-privileges.txt') }
      ]
    ])
    await expect(
      createMacPlatform(onStderr.run).apply({ mode: 'pac', url: 'http://x/p.pac' })
    ).rejects.toMatchObject({
      failure: 'permission'
    })
    const args = ['-setautoproxyurl', WIFI, 'http://x/p.pac']
    const exited = fakeRunner([...OFFICE, [args, adminError(args)]])
    await expect(
      createMacPlatform(exited.run).apply({ mode: 'pac', url: 'http://x/p.pac' })
    ).rejects.toMatchObject({
      failure: 'permission',
      message: expect.stringMatching(/needs administrator rights/)
    })
    const failedWithAdminText = new CommandError(
      'failed',
      NETWORKSETUP,
      `${NETWORKSETUP} -setautoproxyurl failed (exit 1): You cannot set the proxy (Permission denied)`
    )
    const generic = fakeRunner([...OFFICE, [args, failedWithAdminText]])
    await expect(
      createMacPlatform(generic.run).apply({ mode: 'pac', url: 'http://x/p.pac' })
    ).rejects.toMatchObject({
      failure: 'permission'
    })
  })

  it('reports other error lines as failures', async () => {
    const { run } = fakeRunner([
      [['-listallnetworkservices'], fixture('listallnetworkservices.txt')],
      [['-getwebproxy', WIFI], fixture('error-invalid-service.txt')]
    ])
    await expect(createMacPlatform(run).snapshot()).rejects.toMatchObject({
      failure: 'failed',
      message: expect.stringContaining('The parameters were not valid')
    })
  })

  it('keeps restoring after a refusal and then reports the first one', async () => {
    const snapshot = await createMacPlatform(fakeRunner(OFFICE).run).snapshot()
    const first = ['-setwebproxy', WIFI, 'proxy.corp.example', '3128', 'off']
    const { run, calls } = fakeRunner([[first, fixture('error-admin-privileges.txt')]])
    await expect(createMacPlatform(run).restore(snapshot)).rejects.toMatchObject({ failure: 'permission' })
    // Every one of the restore commands.
    expect(calls).toHaveLength(20)
  })

  it('propagates a missing networksetup unchanged', async () => {
    const missing = new CommandError('missing', NETWORKSETUP, `${NETWORKSETUP} was not found`)
    const { run, calls } = fakeRunner([[['-listallnetworkservices'], missing]])
    await expect(createMacPlatform(run).snapshot()).rejects.toBe(missing)
    await expect(createMacPlatform(run).apply(MANUAL)).rejects.toBe(missing)
    const restoring = fakeRunner([[['-setwebproxy', WIFI, 'proxy.corp.example', '3128', 'off'], missing]])
    const snapshot = await createMacPlatform(fakeRunner(OFFICE).run).snapshot()
    await expect(createMacPlatform(restoring.run).restore(snapshot)).rejects.toBe(missing)
    // The first restore command, and no other.
    expect(restoring.calls).toHaveLength(1)
    expect(calls).toHaveLength(2)
  })
})
