/**
 * GNOME and other gsettings desktops (Cinnamon, Budgie, Unity …): the `org.gnome.system.proxy`
 * schemas. Values are read and written as GVariant text, which is what `gsettings get` prints and
 * `gsettings set` accepts, so a snapshot restores byte for byte.
 */
import { runCommand, type CommandRunner } from './command-runner.ts'
import type { DesiredProxy, OsSnapshot, ProxyEndpoint, ProxyView, SystemProxyPlatform } from './types.ts'

const ROOT = 'org.gnome.system.proxy'

/** The keys Junction writes, and so snapshots and restores. */
export const GNOME_KEYS = [
  [ROOT, 'mode'],
  [ROOT, 'autoconfig-url'],
  [ROOT, 'ignore-hosts'],
  [ROOT, 'use-same-proxy'],
  [`${ROOT}.http`, 'host'],
  [`${ROOT}.http`, 'port'],
  [`${ROOT}.https`, 'host'],
  [`${ROOT}.https`, 'port'],
  [`${ROOT}.socks`, 'host'],
  [`${ROOT}.socks`, 'port']
] as const

/** `schema key` → GVariant text. */
export type GnomeSnapshot = Record<string, string>

/** Parses a GVariant string literal ('…' or "…", with backslash escapes); anything else as is. */
export function parseGVariantString(text: string): string {
  const t = text.trim()
  const quote = t[0]
  if ((quote !== "'" && quote !== '"') || t.at(-1) !== quote) return t
  return t.slice(1, -1).replace(/\\(.)/g, '$1')
}

export function parseGVariantStringArray(text: string): string[] {
  const t = text.trim().replace(/^@as\s+/, '')
  const items = t.slice(1, -1).match(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g) ?? []
  return items.map(parseGVariantString)
}

export const gvariantString = (value: string): string =>
  `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
export const gvariantStringArray = (values: string[]): string =>
  values.length === 0 ? '@as []' : `[${values.map(gvariantString).join(', ')}]`

/** Parses `gsettings list-recursively` output into `schema key` → value. */
export function parseListRecursively(text: string): GnomeSnapshot {
  const out: GnomeSnapshot = {}
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+) (.*)$/.exec(line)
    if (m) out[`${m[1]} ${m[2]}`] = m[3]!
  }
  return out
}

function endpoint(snapshot: GnomeSnapshot, schema: string): ProxyEndpoint | null {
  const host = parseGVariantString(snapshot[`${schema} host`] ?? "''")
  const port = Number(snapshot[`${schema} port`] ?? 0)
  return host && port > 0 ? { host, port } : null
}

export function viewGnome(snapshot: GnomeSnapshot): ProxyView {
  const mode = parseGVariantString(snapshot[`${ROOT} mode`] ?? "'none'")
  const pacUrl = parseGVariantString(snapshot[`${ROOT} autoconfig-url`] ?? "''") || null
  const http = endpoint(snapshot, `${ROOT}.http`)
  const sameProxy = snapshot[`${ROOT} use-same-proxy`] === 'true'
  return {
    mode: mode === 'manual' ? 'manual' : mode === 'auto' ? (pacUrl ? 'pac' : 'auto-detect') : 'none',
    http,
    https: sameProxy ? http : endpoint(snapshot, `${ROOT}.https`),
    socks: sameProxy ? http : endpoint(snapshot, `${ROOT}.socks`),
    bypass: parseGVariantStringArray(snapshot[`${ROOT} ignore-hosts`] ?? '@as []'),
    pacUrl,
    // GNOME's "automatic" mode without a URL is WPAD.
    autoDetect: mode === 'auto' && !pacUrl
  }
}

/** The values `apply` writes, in order, as `[schema, key, GVariant text]`. */
export function gnomeWrites(desired: DesiredProxy): [string, string, string][] {
  if (desired.mode === 'pac')
    return [
      [ROOT, 'autoconfig-url', gvariantString(desired.url)],
      [ROOT, 'mode', "'auto'"]
    ]
  const socks = desired.socks
  return [
    [ROOT, 'use-same-proxy', 'false'],
    [`${ROOT}.http`, 'host', gvariantString(desired.http.host)],
    [`${ROOT}.http`, 'port', String(desired.http.port)],
    [`${ROOT}.https`, 'host', gvariantString(desired.https.host)],
    [`${ROOT}.https`, 'port', String(desired.https.port)],
    [`${ROOT}.socks`, 'host', gvariantString(socks?.host ?? '')],
    [`${ROOT}.socks`, 'port', String(socks?.port ?? 0)],
    [ROOT, 'ignore-hosts', gvariantStringArray(desired.bypass)],
    // Mode last: the desktop switches over only once everything else is in place.
    [ROOT, 'mode', "'manual'"]
  ]
}

export function createGnomePlatform(
  run: CommandRunner = runCommand,
  env?: NodeJS.ProcessEnv
): SystemProxyPlatform {
  const gsettings = (args: string[]) => run('gsettings', args, env ? { env } : {})
  return {
    id: 'gnome',
    async snapshot(): Promise<OsSnapshot> {
      const listed = parseListRecursively((await gsettings(['list-recursively', ROOT])).stdout)
      const data: GnomeSnapshot = {}
      for (const [schema, key] of GNOME_KEYS) {
        const value = listed[`${schema} ${key}`]
        if (value === undefined)
          throw new Error(`gsettings has no ${schema} ${key}: is gsettings-desktop-schemas installed?`)
        data[`${schema} ${key}`] = value
      }
      return { platform: 'gnome', data }
    },
    view: (snapshot) => viewGnome(snapshot.data as GnomeSnapshot),
    async apply(desired) {
      for (const [schema, key, value] of gnomeWrites(desired)) await gsettings(['set', schema, key, value])
    },
    async restore(snapshot) {
      const data = snapshot.data as GnomeSnapshot
      // Mode last, as in apply, so the desktop never sees a half-restored manual setup.
      const keys = [...GNOME_KEYS].sort((a, b) => Number(a[1] === 'mode') - Number(b[1] === 'mode'))
      for (const [schema, key] of keys) {
        const value = data[`${schema} ${key}`]
        if (value !== undefined) await gsettings(['set', schema, key, value])
      }
    }
  }
}
