/**
 * GNOME and other gsettings desktops (Cinnamon, Budgie, Unity …): the `org.gnome.system.proxy`
 * schemas. Values are read and written as GVariant text, which is what `gsettings get` prints and
 * `gsettings set` accepts, so a snapshot restores byte for byte.
 *
 * gsettings shows a key the user never set as its default value, and writing that value back would
 * store it for good (and hide any later change of the default). So the snapshot also records which
 * keys dconf holds no value for (`dconf dump /system/proxy/`), and restore resets those instead:
 * the dconf database ends up as it was, key for key.
 */
import { CommandError, runCommand, type CommandRunner } from './command-runner.ts'
import { runPlan, type RestorePlan, type RestoreStep } from './restore-plan.ts'
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
export type GnomeValues = Record<string, string>

export interface GnomeSnapshot {
  values: GnomeValues
  /** `schema key`s that were at their default (no value in dconf); null when that is unknown. */
  unset: string[] | null
}

/** Where each schema keeps its keys in dconf, relative to `/system/proxy/`. */
const DCONF_DIR: Record<string, string> = {
  [ROOT]: '',
  [`${ROOT}.http`]: 'http/',
  [`${ROOT}.https`]: 'https/',
  [`${ROOT}.socks`]: 'socks/'
}

/** Parses `dconf dump /system/proxy/` into the set of keys it holds, as `http/host` etc. */
export function parseDconfDump(text: string): Set<string> {
  const keys = new Set<string>()
  let dir = ''
  for (const line of text.split('\n')) {
    const section = /^\[(.*)\]$/.exec(line)
    if (section) dir = section[1] === '/' ? '' : `${section[1]}/`
    else {
      const key = /^([^=\s]+)=/.exec(line)
      if (key) keys.add(`${dir}${key[1]}`)
    }
  }
  return keys
}

/** Snapshots written before `unset` existed hold the values alone. */
function gnomeData(data: unknown): GnomeSnapshot {
  const d = data as Partial<GnomeSnapshot> & GnomeValues
  return typeof d.values === 'object' && d.values !== null
    ? { values: d.values, unset: d.unset ?? null }
    : { values: d as GnomeValues, unset: null }
}

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
export function parseListRecursively(text: string): GnomeValues {
  const out: GnomeValues = {}
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+) (.*)$/.exec(line)
    if (m) out[`${m[1]} ${m[2]}`] = m[3]!
  }
  return out
}

function endpoint(snapshot: GnomeValues, schema: string): ProxyEndpoint | null {
  const host = parseGVariantString(snapshot[`${schema} host`] ?? "''")
  const port = Number(snapshot[`${schema} port`] ?? 0)
  return host && port > 0 ? { host, port } : null
}

export function viewGnome(snapshot: GnomeValues): ProxyView {
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

/** The gsettings commands that write a snapshot back: keys at their default reset, the rest set. */
export function gnomeRestorePlan(snapshot: OsSnapshot): RestorePlan {
  const { values, unset } = gnomeData(snapshot.data)
  // Mode last, as in apply, so the desktop never sees a half-restored manual setup.
  const keys = [...GNOME_KEYS].sort((a, b) => Number(a[1] === 'mode') - Number(b[1] === 'mode'))
  const steps: RestoreStep[] = []
  for (const [schema, key] of keys) {
    const value = values[`${schema} ${key}`]
    if (unset?.includes(`${schema} ${key}`)) steps.push({ command: ['gsettings', 'reset', schema, key] })
    else if (value !== undefined) steps.push({ command: ['gsettings', 'set', schema, key, value] })
  }
  return { steps }
}

export function createGnomePlatform(
  run: CommandRunner = runCommand,
  env?: NodeJS.ProcessEnv
): SystemProxyPlatform {
  const gsettings = (args: string[]) => run('gsettings', args, env ? { env } : {})
  /** Keys at their default, or null when dconf is not what stores them (or not installed). */
  const unsetKeys = async (): Promise<string[] | null> => {
    const backend = (env ?? process.env).GSETTINGS_BACKEND
    if (backend !== undefined && backend !== 'dconf') return null
    let dump: string
    try {
      dump = (await run('dconf', ['dump', '/system/proxy/'], env ? { env } : {})).stdout
    } catch (error) {
      if (error instanceof CommandError && error.failure === 'missing') return null
      throw error
    }
    const held = parseDconfDump(dump)
    return GNOME_KEYS.filter(([schema, key]) => !held.has(`${DCONF_DIR[schema]}${key}`)).map(
      ([schema, key]) => `${schema} ${key}`
    )
  }
  return {
    id: 'gnome',
    async snapshot(): Promise<OsSnapshot> {
      const listed = parseListRecursively((await gsettings(['list-recursively', ROOT])).stdout)
      const values: GnomeValues = {}
      for (const [schema, key] of GNOME_KEYS) {
        const value = listed[`${schema} ${key}`]
        if (value === undefined)
          throw new Error(`gsettings has no ${schema} ${key}: is gsettings-desktop-schemas installed?`)
        values[`${schema} ${key}`] = value
      }
      const data: GnomeSnapshot = { values, unset: await unsetKeys() }
      return { platform: 'gnome', data }
    },
    view: (snapshot) => viewGnome(gnomeData(snapshot.data).values),
    async apply(desired) {
      for (const [schema, key, value] of gnomeWrites(desired)) await gsettings(['set', schema, key, value])
    },
    restorePlan: gnomeRestorePlan,
    restore: (snapshot) =>
      runPlan(gnomeRestorePlan(snapshot), (file, args) => run(file, args, env ? { env } : {}))
  }
}
