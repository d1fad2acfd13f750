/**
 * macOS system proxy through `networksetup`, per network service. macOS keeps proxy settings on each
 * service (Wi-Fi, Ethernet, …) and uses the first active one in service order, so Junction writes every
 * enabled service and reads the first for its view. `networksetup` often exits 0 with an error printed
 * on stdout, so every reply is checked for one.
 */
import { CommandError, runCommand } from './command-runner.ts'
import type { CommandRunner } from './command-runner.ts'
import { runPlan, type RestorePlan } from './restore-plan.ts'
import type { DesiredProxy, OsSnapshot, ProxyEndpoint, ProxyView, SystemProxyPlatform } from './types.ts'

/** Absolute, so a GUI app's minimal PATH or a look-alike earlier in PATH cannot change what runs. */
export const NETWORKSETUP = '/usr/sbin/networksetup'

/** One of the web, secure web or SOCKS proxies of a service. */
export interface MacProxyServer {
  enabled: boolean
  /** Empty when never set. */
  server: string
  port: number
  /**
   * "Proxy server requires password". Written back as a flag; the user name and password stay in the
   * keychain, which networksetup neither reads nor needs to rewrite for that.
   */
  authenticated: boolean
}

export interface MacServiceSettings {
  name: string
  web: MacProxyServer
  secure: MacProxyServer
  socks: MacProxyServer
  bypass: string[]
  /** `null` when networksetup reports `(null)`: never set. */
  autoProxyUrl: string | null
  autoProxyEnabled: boolean
  autoDiscovery: boolean
}

/** Snapshot data: every enabled service, in the order networksetup lists them. */
export interface MacSnapshotData {
  services: MacServiceSettings[]
}

export interface MacNetworkService {
  name: string
  enabled: boolean
}

/** networksetup's ways of saying it lacks administrator rights; an extended regular expression. */
const PERMISSION_PATTERN = 'requires admin|admin(istrator)? privileges|permission denied|not permitted'
const PERMISSION = new RegExp(PERMISSION_PATTERN, 'i')
/** Output that means a networksetup command failed, whatever its exit status (for the shell watchdog). */
export const NETWORKSETUP_FAILS = `${PERMISSION_PATTERN}|^ *\\*\\* Error`

/**
 * Parses `-listallnetworkservices`: a header sentence, then one service per line, `*`-prefixed when the
 * service is disabled.
 */
export function parseNetworkServices(text: string): MacNetworkService[] {
  const services: MacNetworkService[] = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd()
    if (line === '' || line.startsWith('An asterisk (*)')) continue
    if (line.startsWith('*')) services.push({ name: line.slice(1), enabled: false })
    else services.push({ name: line, enabled: true })
  }
  return services
}

/** `Key: value` lines; the value keeps any further colons (URLs). */
function keyValues(text: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon === -1) continue
    map.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim())
  }
  return map
}

function yesNo(value: string | undefined, what: string): boolean {
  const v = value?.toLowerCase()
  if (v === 'yes' || v === 'on' || v === '1') return true
  if (v === 'no' || v === 'off' || v === '0') return false
  throw new Error(`networksetup printed an unexpected ${what}: ${JSON.stringify(value ?? null)}`)
}

/** Parses `-getwebproxy`, `-getsecurewebproxy` or `-getsocksfirewallproxy` output. */
export function parseProxyServerOutput(text: string): MacProxyServer {
  const kv = keyValues(text)
  const portText = kv.get('Port') ?? ''
  if (!/^\d+$/.test(portText)) throw new Error(`networksetup printed an unexpected proxy port: ${portText}`)
  return {
    enabled: yesNo(kv.get('Enabled'), 'proxy state'),
    server: kv.get('Server') ?? '',
    port: Number(portText),
    authenticated: kv.has('Authenticated Proxy Enabled')
      ? yesNo(kv.get('Authenticated Proxy Enabled'), 'authentication state')
      : false
  }
}

/** Parses `-getproxybypassdomains`: one entry per line, or a sentence when there are none. */
export function parseBypassDomains(text: string): string[] {
  if (/There aren't any bypass domains set/i.test(text)) return []
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/** Parses `-getautoproxyurl`: `URL: …` (`(null)` when never set) and `Enabled: Yes|No`. */
export function parseAutoProxyUrl(text: string): { url: string | null; enabled: boolean } {
  const kv = keyValues(text)
  const url = kv.get('URL') ?? ''
  return {
    url: url === '' || url === '(null)' ? null : url,
    enabled: yesNo(kv.get('Enabled'), 'auto proxy state')
  }
}

/** Parses `-getproxyautodiscovery`: `Auto Proxy Discovery: On|Off`. */
export function parseAutoDiscovery(text: string): boolean {
  return yesNo(keyValues(text).get('Auto Proxy Discovery'), 'auto proxy discovery state')
}

interface ViewParts {
  http: ProxyEndpoint | null
  https: ProxyEndpoint | null
  socks: ProxyEndpoint | null
  bypass: string[]
  pacUrl: string | null
  autoDetect: boolean
}

/** PAC first, then manual proxies, then WPAD alone; bypass only matters (and is shown) with manual. */
function assembleView(parts: ViewParts): ProxyView {
  const manual = parts.http !== null || parts.https !== null || parts.socks !== null
  return {
    mode: parts.pacUrl !== null ? 'pac' : manual ? 'manual' : parts.autoDetect ? 'auto-detect' : 'none',
    http: parts.http,
    https: parts.https,
    socks: parts.socks,
    bypass: manual ? parts.bypass : [],
    pacUrl: parts.pacUrl,
    autoDetect: parts.autoDetect
  }
}

function activeEndpoint(proxy: MacProxyServer): ProxyEndpoint | null {
  return proxy.enabled && proxy.server !== '' ? { host: proxy.server, port: proxy.port } : null
}

/** Describes one service's settings; endpoints only when enabled, the PAC URL only when PAC is on. */
export function describeMacService(service: MacServiceSettings): ProxyView {
  return assembleView({
    http: activeEndpoint(service.web),
    https: activeEndpoint(service.secure),
    socks: activeEndpoint(service.socks),
    bypass: service.bypass,
    pacUrl: service.autoProxyEnabled ? service.autoProxyUrl : null,
    autoDetect: service.autoDiscovery
  })
}

/**
 * Parses `scutil --proxy` (the effective settings from the dynamic store, cheap to poll). Only top-level
 * keys count: the per-interface copies under `__SCOPED__` are not what applications use.
 */
export function parseScutilProxy(text: string): ProxyView {
  const top = new Map<string, string>()
  const exceptions: string[] = []
  // Depth inside keyed containers (`Key : <array> {`); the unkeyed `<dictionary> {` root does not count.
  let depth = 0
  let inExceptions = false
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '') continue
    if (line === '}') {
      if (depth > 0) depth--
      if (depth === 0) inExceptions = false
      continue
    }
    const sep = line.indexOf(' : ')
    if (line.endsWith('{')) {
      if (sep === -1) continue
      depth++
      if (depth === 1 && line.slice(0, sep).trim() === 'ExceptionsList') inExceptions = true
      continue
    }
    if (sep === -1) continue
    const key = line.slice(0, sep).trim()
    const value = line.slice(sep + 3).trim()
    if (depth === 0) top.set(key, value)
    else if (depth === 1 && inExceptions) exceptions.push(value)
  }
  const endpoint = (prefix: string): ProxyEndpoint | null => {
    const host = top.get(`${prefix}Proxy`)
    const port = Number(top.get(`${prefix}Port`))
    return top.get(`${prefix}Enable`) === '1' && host && Number.isInteger(port) && port > 0
      ? { host, port }
      : null
  }
  const pacUrl = top.get('ProxyAutoConfigURLString')
  return assembleView({
    http: endpoint('HTTP'),
    https: endpoint('HTTPS'),
    socks: endpoint('SOCKS'),
    bypass: exceptions,
    pacUrl: top.get('ProxyAutoConfigEnable') === '1' && pacUrl ? pacUrl : null,
    autoDetect: top.get('ProxyAutoDiscoveryEnable') === '1'
  })
}

const onOff = (on: boolean) => (on ? 'on' : 'off')

/** The networksetup argument lists that point every named service at `desired`. */
export function buildApplyCommands(services: string[], desired: DesiredProxy): string[][] {
  const commands: string[][] = []
  for (const s of services) {
    if (desired.mode === 'manual') {
      // Authentication off: macOS must not send the user's proxy password to Junction's port.
      commands.push(['-setwebproxy', s, desired.http.host, String(desired.http.port), 'off'])
      commands.push(['-setsecurewebproxy', s, desired.https.host, String(desired.https.port), 'off'])
      commands.push(
        desired.socks
          ? ['-setsocksfirewallproxy', s, desired.socks.host, String(desired.socks.port), 'off']
          : ['-setsocksfirewallproxystate', s, 'off']
      )
      // networksetup takes the word `Empty` to clear the list.
      commands.push([
        '-setproxybypassdomains',
        s,
        ...(desired.bypass.length > 0 ? desired.bypass : ['Empty'])
      ])
      commands.push(['-setautoproxystate', s, 'off'])
      // WPAD would otherwise take precedence over the manual proxy; restore turns it back on if it was.
      commands.push(['-setproxyautodiscovery', s, 'off'])
    } else {
      commands.push(['-setautoproxyurl', s, desired.url])
      commands.push(['-setautoproxystate', s, 'on'])
      commands.push(['-setwebproxystate', s, 'off'])
      commands.push(['-setsecurewebproxystate', s, 'off'])
      commands.push(['-setsocksfirewallproxystate', s, 'off'])
      commands.push(['-setproxyautodiscovery', s, 'off'])
    }
  }
  return commands
}

/**
 * Which of a service's fields Junction may have written since the snapshot. A restore empties those
 * the snapshot records as never set, and leaves the others never set: emptying writes a value.
 */
export interface MacWritten {
  web: boolean
  secure: boolean
  socks: boolean
  autoProxyUrl: boolean
}

const WROTE_ALL: MacWritten = { web: true, secure: true, socks: true, autoProxyUrl: true }

/**
 * Known from what Junction applied, so nothing needs reading: manual sets the web, secure web and (if
 * asked) SOCKS proxies, PAC the URL. Unknown (a journal from before this was recorded): everything.
 */
export function writtenBy(applied: DesiredProxy[] | undefined): MacWritten {
  if (!applied) return WROTE_ALL
  const manual = applied.some((d) => d.mode === 'manual')
  return {
    web: manual,
    secure: manual,
    socks: applied.some((d) => d.mode === 'manual' && d.socks !== null),
    autoProxyUrl: applied.some((d) => d.mode === 'pac')
  }
}

function restoreProxyServer(
  set: string,
  setState: string,
  service: string,
  proxy: MacProxyServer,
  written: boolean
): string[][] {
  if (proxy.server === '') {
    // Never set, and Junction did not set it either: only make sure it is off.
    if (!written) return [[setState, service, 'off']]
    // Set by Junction: emptied again (`-set…proxy` turns the proxy on, so it is switched off after).
    return [
      [set, service, '', '0', 'off'],
      [setState, service, 'off']
    ]
  }
  return [
    [set, service, proxy.server, String(proxy.port), onOff(proxy.authenticated)],
    [setState, service, onOff(proxy.enabled)]
  ]
}

/**
 * The networksetup argument lists that write every recorded field of every service back; proxies and
 * PAC URLs that were never set are emptied again only where `wrote` says Junction may have set one.
 */
export function buildRestoreCommands(data: MacSnapshotData, wrote: MacWritten = WROTE_ALL): string[][] {
  const commands: string[][] = []
  for (const s of data.services) {
    commands.push(...restoreProxyServer('-setwebproxy', '-setwebproxystate', s.name, s.web, wrote.web))
    commands.push(
      ...restoreProxyServer('-setsecurewebproxy', '-setsecurewebproxystate', s.name, s.secure, wrote.secure)
    )
    commands.push(
      ...restoreProxyServer(
        '-setsocksfirewallproxy',
        '-setsocksfirewallproxystate',
        s.name,
        s.socks,
        wrote.socks
      )
    )
    commands.push(['-setproxybypassdomains', s.name, ...(s.bypass.length > 0 ? s.bypass : ['Empty'])])
    // `-setautoproxyurl` also switches PAC on, so the recorded state is written after it. A URL that
    // was never set is emptied again where Junction has set one.
    if (s.autoProxyUrl !== null) commands.push(['-setautoproxyurl', s.name, s.autoProxyUrl])
    else if (wrote.autoProxyUrl) commands.push(['-setautoproxyurl', s.name, ''])
    commands.push(['-setautoproxystate', s.name, onOff(s.autoProxyEnabled)])
    commands.push(['-setproxyautodiscovery', s.name, onOff(s.autoDiscovery)])
  }
  return commands
}

/** Every recorded field of every service written back, each reply checked for networksetup's errors. */
export const macRestorePlan = (snapshot: OsSnapshot, applied?: DesiredProxy[]): RestorePlan => ({
  steps: buildRestoreCommands(asMacData(snapshot), writtenBy(applied)).map((args) => ({
    command: [NETWORKSETUP, ...args],
    failsOn: NETWORKSETUP_FAILS
  }))
})

function permissionError(args: string[], detail: string, stderr = ''): CommandError {
  return new CommandError(
    'permission',
    NETWORKSETUP,
    `Changing the macOS proxy settings needs administrator rights (networksetup ${args[0] ?? ''}: ${detail})`,
    stderr
  )
}

/**
 * Finds an error in networksetup's output, which it often prints on stdout while exiting 0: a
 * permission problem becomes failure 'permission', any other `** Error` line failure 'failed'.
 */
export function networksetupOutputError(args: string[], output: string): CommandError | null {
  const lines = output.split(/\r?\n/).map((l) => l.trim())
  const denied = lines.find((l) => PERMISSION.test(l))
  if (denied !== undefined) return permissionError(args, denied)
  const failed = lines.find((l) => l.startsWith('** Error'))
  if (failed !== undefined)
    return new CommandError('failed', NETWORKSETUP, `networksetup ${args[0] ?? ''} failed: ${failed}`)
  return null
}

function asMacData(snapshot: OsSnapshot): MacSnapshotData {
  const data = snapshot.data as Partial<MacSnapshotData> | null
  if (snapshot.platform !== 'macos' || !data || typeof data !== 'object' || !Array.isArray(data.services))
    throw new Error(`Not a macOS proxy snapshot (platform ${snapshot.platform})`)
  return data as MacSnapshotData
}

/**
 * macOS platform: snapshot, describe, apply and restore the proxy settings of every enabled network
 * service. Every command runs through `run` as an argument array.
 */
export function createMacPlatform(run: CommandRunner = runCommand): SystemProxyPlatform {
  const networksetup = async (args: string[]): Promise<string> => {
    let result
    try {
      result = await run(NETWORKSETUP, args)
    } catch (error) {
      if (
        error instanceof CommandError &&
        (error.failure === 'permission' ||
          (error.failure === 'failed' && PERMISSION.test(`${error.message}\n${error.stderr}`)))
      )
        throw permissionError(args, error.message, error.stderr)
      throw error
    }
    const problem = networksetupOutputError(args, `${result.stdout}\n${result.stderr}`)
    if (problem) throw problem
    return result.stdout
  }

  const enabledServices = async (): Promise<string[]> =>
    parseNetworkServices(await networksetup(['-listallnetworkservices']))
      .filter((s) => s.enabled)
      .map((s) => s.name)

  const readService = async (name: string): Promise<MacServiceSettings> => {
    const web = parseProxyServerOutput(await networksetup(['-getwebproxy', name]))
    const secure = parseProxyServerOutput(await networksetup(['-getsecurewebproxy', name]))
    const socks = parseProxyServerOutput(await networksetup(['-getsocksfirewallproxy', name]))
    const bypass = parseBypassDomains(await networksetup(['-getproxybypassdomains', name]))
    const auto = parseAutoProxyUrl(await networksetup(['-getautoproxyurl', name]))
    const autoDiscovery = parseAutoDiscovery(await networksetup(['-getproxyautodiscovery', name]))
    return {
      name,
      web,
      secure,
      socks,
      bypass,
      autoProxyUrl: auto.url,
      autoProxyEnabled: auto.enabled,
      autoDiscovery
    }
  }

  const readAll = async (): Promise<MacSnapshotData> => {
    const services: MacServiceSettings[] = []
    for (const name of await enabledServices()) services.push(await readService(name))
    return { services }
  }

  return {
    id: 'macos',

    snapshot: async () => ({ platform: 'macos', data: await readAll() }),

    view(snapshot) {
      const first = asMacData(snapshot).services[0]
      if (first) return describeMacService(first)
      return {
        mode: 'none',
        http: null,
        https: null,
        socks: null,
        bypass: [],
        pacUrl: null,
        autoDetect: false
      }
    },

    async apply(desired) {
      for (const args of buildApplyCommands(await enabledServices(), desired)) await networksetup(args)
    },

    restorePlan: macRestorePlan,

    restore: (snapshot, applied) =>
      runPlan(macRestorePlan(snapshot, applied), async (_file, args) => ({
        stdout: await networksetup(args),
        stderr: ''
      }))
  }
}
