/**
 * Windows system proxy through the per-user WinINet settings in the registry. `reg.exe` reads and writes
 * the values; a short PowerShell snippet then tells running WinINet clients to reload them. The
 * `DefaultConnectionSettings` blob is what WinINet actually reads (the plain values are its legacy
 * mirror), so every change writes both.
 */
import { CommandError, runAll, runCommand } from './command-runner.ts'
import type { CommandRunner } from './command-runner.ts'
import type { DesiredProxy, OsSnapshot, ProxyEndpoint, ProxyView, SystemProxyPlatform } from './types.ts'

export const INTERNET_SETTINGS_KEY = 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings'
export const CONNECTIONS_KEY = `${INTERNET_SETTINGS_KEY}\\Connections`
export const CONNECTION_SETTINGS_VALUE = 'DefaultConnectionSettings'

/** The values under `Internet Settings` that make up the proxy configuration. */
export const SETTINGS_VALUE_NAMES = [
  'ProxyEnable',
  'ProxyServer',
  'ProxyOverride',
  'AutoConfigURL',
  'AutoDetect'
] as const
export type SettingsValueName = (typeof SETTINGS_VALUE_NAMES)[number]

/** Flag bits of `DefaultConnectionSettings` (the `PROXY_TYPE_*` values of WinINet). */
export const CONNECTION_FLAGS = { direct: 1, proxy: 2, autoProxyUrl: 4, autoDetect: 8 } as const

/** Version word used when no previous blob exists (what Windows 7 and later write). */
export const DEFAULT_CONNECTION_SETTINGS_VERSION = 0x46
/** Unknown bytes after the strings; zeros are what a freshly built blob carries. */
export const DEFAULT_CONNECTION_SETTINGS_TRAILER_LENGTH = 32

const NOT_FOUND = /unable to find the specified registry key or value/i

/** A registry value as `reg query` prints it: type name and data text (REG_BINARY as contiguous hex). */
export interface RegValue {
  type: string
  data: string
}

export interface RegEntry extends RegValue {
  name: string
}

/** Snapshot data: each value present (type + data) or absent (`null`), so restore can delete it again. */
export interface WindowsSnapshotData {
  values: Record<SettingsValueName, RegValue | null>
  connectionSettings: RegValue | null
}

export interface ConnectionSettingsFields {
  counter: number
  flags: number
  proxyServer: string
  bypass: string
  autoConfigUrl: string
}

export interface ConnectionSettings extends ConnectionSettingsFields {
  version: number
  /** Whatever followed the auto-config URL, kept byte for byte. */
  trailer: Buffer
}

/**
 * Parses `reg query` output: the value lines of the first key printed, skipping the subkey lines
 * (`HKEY_…\Sub`) that a whole-key query lists after a blank line. Accepts CRLF or LF.
 */
export function parseRegQuery(text: string): RegEntry[] {
  const entries: RegEntry[] = []
  let seenKey = false
  for (const line of text.split(/\r?\n/)) {
    if (/^HKEY_/i.test(line)) {
      if (seenKey) break
      seenKey = true
      continue
    }
    // reg separates name, type and data with four spaces; data may be empty (then the separator may be too).
    const match = /^ {4}(.+?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$/.exec(line)
    if (!match) continue
    const [, name, type, data] = match
    if (name === undefined || type === undefined) continue
    entries.push({ name, type, data: data ?? '' })
  }
  return entries
}

function findValue(entries: RegEntry[], name: string): RegValue | null {
  // Registry value names are case-insensitive.
  const entry = entries.find((e) => e.name.toLowerCase() === name.toLowerCase())
  return entry ? { type: entry.type, data: entry.data } : null
}

/** Decodes the `DefaultConnectionSettings` blob (little-endian DWORDs, length-prefixed ANSI strings). */
export function parseConnectionSettings(buf: Uint8Array): ConnectionSettings {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  if (bytes.length < 12) throw new Error(`DefaultConnectionSettings is too short (${bytes.length} bytes)`)
  let offset = 12
  const readString = (what: string): string => {
    if (offset + 4 > bytes.length) throw new Error(`DefaultConnectionSettings ends before the ${what} length`)
    const length = bytes.readUInt32LE(offset)
    offset += 4
    if (offset + length > bytes.length)
      throw new Error(`DefaultConnectionSettings ${what} (${length} bytes) runs past the end`)
    // latin1 maps bytes one to one, so an unchanged string is written back byte for byte.
    const value = bytes.toString('latin1', offset, offset + length)
    offset += length
    return value
  }
  const proxyServer = readString('proxy server')
  const bypass = readString('bypass list')
  const autoConfigUrl = readString('auto-config URL')
  return {
    version: bytes.readUInt32LE(0),
    counter: bytes.readUInt32LE(4),
    flags: bytes.readUInt32LE(8),
    proxyServer,
    bypass,
    autoConfigUrl,
    trailer: Buffer.from(bytes.subarray(offset))
  }
}

/**
 * Encodes a `DefaultConnectionSettings` blob. The version word and the trailing bytes come from
 * `previous` when given (their meaning is undocumented, so they are kept); otherwise 0x46 and 32 zeros.
 */
export function buildConnectionSettings(
  fields: ConnectionSettingsFields,
  previous?: ConnectionSettings
): Buffer {
  const header = Buffer.alloc(12)
  header.writeUInt32LE((previous?.version ?? DEFAULT_CONNECTION_SETTINGS_VERSION) >>> 0, 0)
  header.writeUInt32LE(fields.counter >>> 0, 4)
  header.writeUInt32LE(fields.flags >>> 0, 8)
  const lengthPrefixed = (value: string): Buffer => {
    const body = Buffer.from(value, 'latin1')
    const length = Buffer.alloc(4)
    length.writeUInt32LE(body.length, 0)
    return Buffer.concat([length, body])
  }
  return Buffer.concat([
    header,
    lengthPrefixed(fields.proxyServer),
    lengthPrefixed(fields.bypass),
    lengthPrefixed(fields.autoConfigUrl),
    previous?.trailer ?? Buffer.alloc(DEFAULT_CONNECTION_SETTINGS_TRAILER_LENGTH)
  ])
}

/** The counter for the next write: one more than the previous blob's, wrapping at 2³². */
export function nextCounter(previous: ConnectionSettings | null): number {
  return ((previous?.counter ?? 0) + 1) >>> 0
}

/** `host:port`, with IPv6 literals in brackets. */
export function formatEndpoint(endpoint: ProxyEndpoint): string {
  const host =
    endpoint.host.includes(':') && !endpoint.host.startsWith('[') ? `[${endpoint.host}]` : endpoint.host
  return `${host}:${endpoint.port}`
}

/**
 * Parses one `host:port` entry (optionally `scheme://host:port`, `[v6]:port`). WinINet assumes
 * `defaultPort` when the port is missing. Returns null for anything unusable.
 */
export function parseEndpoint(text: string, defaultPort: number): ProxyEndpoint | null {
  const value = text
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\/+$/, '')
  if (value === '') return null
  let host: string
  let portText: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(\d*))?$/.exec(value)
  if (bracketed) {
    host = bracketed[1] ?? ''
    portText = bracketed[2]
  } else {
    const colon = value.lastIndexOf(':')
    // Several colons without brackets is a bare IPv6 address, which has no port.
    if (colon === -1 || value.indexOf(':') !== colon) {
      host = value
    } else {
      host = value.slice(0, colon)
      portText = value.slice(colon + 1)
    }
  }
  if (host === '') return null
  if (portText === undefined || portText === '') return { host, port: defaultPort }
  if (!/^\d+$/.test(portText)) return null
  const port = Number(portText)
  return port >= 1 && port <= 65535 ? { host, port } : null
}

/** The `ProxyServer` value for a manual proxy: `http=H:P;https=H:P` plus `;socks=H:P` when given. */
export function formatProxyServer(desired: Extract<DesiredProxy, { mode: 'manual' }>): string {
  const parts = [`http=${formatEndpoint(desired.http)}`, `https=${formatEndpoint(desired.https)}`]
  if (desired.socks) parts.push(`socks=${formatEndpoint(desired.socks)}`)
  return parts.join(';')
}

/**
 * Parses a `ProxyServer` value: either one `host:port` used for every URL scheme (an HTTP proxy, so it
 * fills http and https, not socks) or `proto=host:port` entries separated by `;`. Explicit entries win.
 */
export function parseProxyServer(value: string): Pick<ProxyView, 'http' | 'https' | 'socks'> {
  const result: Pick<ProxyView, 'http' | 'https' | 'socks'> = { http: null, https: null, socks: null }
  let shared: ProxyEndpoint | null = null
  for (const raw of value.split(';')) {
    const part = raw.trim()
    if (part === '') continue
    const eq = part.indexOf('=')
    if (eq === -1) {
      shared ??= parseEndpoint(part, 80)
      continue
    }
    const protocol = part.slice(0, eq).trim().toLowerCase()
    const target = part.slice(eq + 1)
    if (protocol === 'http' || protocol === 'https') result[protocol] = parseEndpoint(target, 80)
    else if (protocol === 'socks') result.socks = parseEndpoint(target, 1080)
  }
  result.http ??= shared
  result.https ??= shared
  return result
}

/** Splits `ProxyOverride` on `;`, dropping empty entries. */
export function parseBypassList(value: string): string[] {
  return value
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/** Parses REG_DWORD text (`0x1`) to a number; null when absent or not a DWORD. */
export function dwordValue(value: RegValue | null): number | null {
  if (!value || value.type !== 'REG_DWORD') return null
  const n = Number.parseInt(value.data, 16)
  return Number.isNaN(n) ? null : n
}

function stringValue(value: RegValue | null): string {
  return value && (value.type === 'REG_SZ' || value.type === 'REG_EXPAND_SZ') ? value.data : ''
}

function connectionSettingsOf(value: RegValue | null): ConnectionSettings | null {
  if (!value || value.type !== 'REG_BINARY' || !/^(?:[0-9a-f]{2})*$/i.test(value.data)) return null
  try {
    return parseConnectionSettings(Buffer.from(value.data, 'hex'))
  } catch {
    // A blob this code cannot read is still restored verbatim; it just cannot inform the view or a rebuild.
    return null
  }
}

/**
 * Describes Windows snapshot data. PAC wins when `AutoConfigURL` is set and the blob's auto-proxy flag is
 * on; then a manual proxy when `ProxyEnable` is 1; then WPAD alone; otherwise direct. Endpoints and
 * bypass are reported only while the manual proxy is on, the PAC URL only while PAC is.
 */
export function describeWindowsSettings(data: WindowsSnapshotData): ProxyView {
  const settings = connectionSettingsOf(data.connectionSettings)
  const flags = settings?.flags ?? null
  const autoConfigUrl = stringValue(data.values.AutoConfigURL)
  const pac = autoConfigUrl !== '' && (flags === null || (flags & CONNECTION_FLAGS.autoProxyUrl) !== 0)
  const manual = dwordValue(data.values.ProxyEnable) === 1
  const autoDetect =
    flags !== null ? (flags & CONNECTION_FLAGS.autoDetect) !== 0 : dwordValue(data.values.AutoDetect) === 1
  const endpoints = manual
    ? parseProxyServer(stringValue(data.values.ProxyServer))
    : { http: null, https: null, socks: null }
  return {
    mode: pac ? 'pac' : manual ? 'manual' : autoDetect ? 'auto-detect' : 'none',
    ...endpoints,
    bypass: manual ? parseBypassList(stringValue(data.values.ProxyOverride)) : [],
    pacUrl: pac ? autoConfigUrl : null,
    autoDetect
  }
}

/**
 * PowerShell that announces a settings change to WinINet (INTERNET_OPTION_SETTINGS_CHANGED = 39, then
 * INTERNET_OPTION_REFRESH = 37), so running browsers pick up the registry without a restart. It holds
 * no double quotes (the C# string's quotes come from `[char]34`): Windows argument quoting of embedded
 * quotes is where `-Command` strings usually break.
 */
export const WININET_REFRESH_SCRIPT = [
  '$q = [char]34',
  "$signature = '[DllImport(' + $q + 'wininet.dll' + $q + ', SetLastError = true)] public static extern bool InternetSetOption(IntPtr hInternet, int dwOption, IntPtr lpBuffer, int dwBufferLength);'",
  '$wininet = Add-Type -MemberDefinition $signature -Name WinInet -Namespace JunctionSysProxy -PassThru',
  '[void]$wininet::InternetSetOption([IntPtr]::Zero, 39, [IntPtr]::Zero, 0)',
  '[void]$wininet::InternetSetOption([IntPtr]::Zero, 37, [IntPtr]::Zero, 0)'
].join('; ')

export const POWERSHELL = 'powershell.exe'
export const POWERSHELL_ARGS = ['-NoProfile', '-NonInteractive', '-Command', WININET_REFRESH_SCRIPT]
/** Add-Type compiles C# on first use, which can take several seconds on a cold machine. */
const POWERSHELL_TIMEOUT_MS = 30_000

function isNotFound(error: unknown): boolean {
  return (
    error instanceof CommandError &&
    error.failure === 'failed' &&
    NOT_FOUND.test(`${error.message}\n${error.stderr}`)
  )
}

function asWindowsData(snapshot: OsSnapshot): WindowsSnapshotData {
  const data = snapshot.data as Partial<WindowsSnapshotData> | null
  if (snapshot.platform !== 'windows' || !data || typeof data !== 'object' || !data.values)
    throw new Error(`Not a Windows proxy snapshot (platform ${snapshot.platform})`)
  return data as WindowsSnapshotData
}

/**
 * Windows platform: snapshot, describe, apply and restore the WinINet proxy settings of the current user.
 * Every command runs through `run` as an argument array.
 */
export function createWindowsPlatform(run: CommandRunner = runCommand): SystemProxyPlatform {
  const reg = (args: string[]) => run('reg', args)

  /** `reg query` that reports a missing key or value as no entries rather than an error. */
  const query = async (args: string[]): Promise<RegEntry[]> => {
    try {
      return parseRegQuery((await reg(['query', ...args])).stdout)
    } catch (error) {
      if (isNotFound(error)) return []
      throw error
    }
  }

  const readConnectionSettings = async (): Promise<RegValue | null> =>
    findValue(await query([CONNECTIONS_KEY, '/v', CONNECTION_SETTINGS_VALUE]), CONNECTION_SETTINGS_VALUE)

  const add = (key: string, name: string, type: string, data: string) =>
    reg(['add', key, '/v', name, '/t', type, '/d', data, '/f'])

  const remove = async (key: string, name: string): Promise<void> => {
    try {
      await reg(['delete', key, '/v', name, '/f'])
    } catch (error) {
      // Deleting what is already gone is the outcome we wanted.
      if (!isNotFound(error)) throw error
    }
  }

  const notify = () => run(POWERSHELL, POWERSHELL_ARGS, { timeoutMs: POWERSHELL_TIMEOUT_MS })

  return {
    id: 'windows',

    async snapshot() {
      const entries = await query([INTERNET_SETTINGS_KEY])
      const values = Object.fromEntries(
        SETTINGS_VALUE_NAMES.map((name) => [name, findValue(entries, name)])
      ) as Record<SettingsValueName, RegValue | null>
      const data: WindowsSnapshotData = { values, connectionSettings: await readConnectionSettings() }
      return { platform: 'windows', data }
    },

    view(snapshot) {
      return describeWindowsSettings(asWindowsData(snapshot))
    },

    async apply(desired) {
      const previous = connectionSettingsOf(await readConnectionSettings())
      let fields: ConnectionSettingsFields
      if (desired.mode === 'manual') {
        const proxyServer = formatProxyServer(desired)
        const bypass = desired.bypass.join(';')
        await add(INTERNET_SETTINGS_KEY, 'ProxyEnable', 'REG_DWORD', '1')
        await add(INTERNET_SETTINGS_KEY, 'ProxyServer', 'REG_SZ', proxyServer)
        await add(INTERNET_SETTINGS_KEY, 'ProxyOverride', 'REG_SZ', bypass)
        await remove(INTERNET_SETTINGS_KEY, 'AutoConfigURL')
        // The PAC URL text stays in the blob with its flag off, as the Internet Options dialog leaves it.
        fields = {
          counter: nextCounter(previous),
          flags: CONNECTION_FLAGS.proxy | CONNECTION_FLAGS.direct,
          proxyServer,
          bypass,
          autoConfigUrl: previous?.autoConfigUrl ?? ''
        }
      } else {
        await add(INTERNET_SETTINGS_KEY, 'ProxyEnable', 'REG_DWORD', '0')
        await add(INTERNET_SETTINGS_KEY, 'AutoConfigURL', 'REG_SZ', desired.url)
        fields = {
          counter: nextCounter(previous),
          flags: CONNECTION_FLAGS.autoProxyUrl | CONNECTION_FLAGS.direct,
          proxyServer: previous?.proxyServer ?? '',
          bypass: previous?.bypass ?? '',
          autoConfigUrl: desired.url
        }
      }
      const blob = buildConnectionSettings(fields, previous ?? undefined)
      await add(CONNECTIONS_KEY, CONNECTION_SETTINGS_VALUE, 'REG_BINARY', blob.toString('hex').toUpperCase())
      await notify()
    },

    async restore(snapshot) {
      const data = asWindowsData(snapshot)
      const steps: Array<() => Promise<unknown>> = []
      for (const name of SETTINGS_VALUE_NAMES) {
        const value = data.values[name]
        steps.push(
          value
            ? () => add(INTERNET_SETTINGS_KEY, name, value.type, regAddData(value))
            : () => remove(INTERNET_SETTINGS_KEY, name)
        )
      }
      const blob = data.connectionSettings
      steps.push(
        blob
          ? () => add(CONNECTIONS_KEY, CONNECTION_SETTINGS_VALUE, blob.type, regAddData(blob))
          : () => remove(CONNECTIONS_KEY, CONNECTION_SETTINGS_VALUE)
      )
      steps.push(notify)
      await runAll(steps)
    }
  }
}

/**
 * The `/d` argument for `reg add` that writes back what `reg query` printed: DWORD/QWORD hex (`0x1a`)
 * as decimal, everything else as printed (REG_BINARY is already contiguous hex).
 */
export function regAddData(value: RegValue): string {
  if ((value.type === 'REG_DWORD' || value.type === 'REG_QWORD') && /^0x[0-9a-f]+$/i.test(value.data))
    return BigInt(value.data).toString(10)
  return value.data
}
