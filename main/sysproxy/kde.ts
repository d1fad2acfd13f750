/**
 * KDE Plasma: `kioslaverc`, group `Proxy Settings`, written with kwriteconfig5/6 (by
 * KDE_SESSION_VERSION), then KIO is told to re-read it over D-Bus. A key that was absent is deleted
 * again on restore (and an empty one written back empty), so the file ends up as it was.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runCommand, type CommandRunner } from './command-runner.ts'
import { runPlan, type RestorePlan, type RestoreStep } from './restore-plan.ts'
import type { DesiredProxy, OsSnapshot, ProxyEndpoint, ProxyView, SystemProxyPlatform } from './types.ts'

const FILE = 'kioslaverc'
const GROUP = 'Proxy Settings'

/** The keys Junction writes, and so snapshots and restores. */
export const KDE_KEYS = [
  'ProxyType',
  'httpProxy',
  'httpsProxy',
  'socksProxy',
  'NoProxyFor',
  'Proxy Config Script',
  'ReversedException'
] as const

/** Key → value; null when the key is absent from the file. */
export type KdeValues = Record<(typeof KDE_KEYS)[number], string | null>

export interface KdeSnapshot {
  values: KdeValues
  /** Whether kioslaverc existed: deleting every key Junction wrote leaves an empty file behind. */
  fileExisted: boolean
}

/** What kreadconfig prints for an absent key: a default no proxy setting can hold. */
const ABSENT = '\u0001junction: no such key\u0001'

/** ProxyType values: 0 none, 1 manual, 2 PAC URL, 3 WPAD, 4 environment variables. */
const TYPE = { none: '0', manual: '1', pac: '2', wpad: '3' }

/** KDE writes `http://host port`; older files and hand edits have `http://host:port`. */
export function parseKdeProxy(value: string): ProxyEndpoint | null {
  const m = /^(?:[a-z0-9]+:\/\/)?(\[[^\]]+\]|[^\s:]+)(?:[\s:](\d+))?\/?$/i.exec(value.trim())
  if (!m) return null
  const host = m[1]!.replace(/^\[|\]$/g, '')
  const port = Number(m[2] ?? 0)
  return port > 0 ? { host, port } : null
}

export const kdeProxyValue = (scheme: string, { host, port }: ProxyEndpoint): string =>
  `${scheme}://${host.includes(':') ? `[${host}]` : host} ${port}`

export function viewKde(s: KdeValues): ProxyView {
  const type = s.ProxyType || TYPE.none
  const pacUrl = s['Proxy Config Script'] || null
  return {
    mode:
      type === TYPE.manual
        ? 'manual'
        : type === TYPE.pac
          ? 'pac'
          : type === TYPE.wpad
            ? 'auto-detect'
            : 'none',
    http: parseKdeProxy(s.httpProxy ?? ''),
    https: parseKdeProxy(s.httpsProxy ?? ''),
    socks: parseKdeProxy(s.socksProxy ?? ''),
    bypass: (s.NoProxyFor ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean),
    pacUrl,
    autoDetect: type === TYPE.wpad
  }
}

/** Key → value (null deletes the key), in the order `apply` writes them. */
export function kdeWrites(desired: DesiredProxy): [string, string | null][] {
  if (desired.mode === 'pac')
    return [
      ['Proxy Config Script', desired.url],
      ['ProxyType', TYPE.pac]
    ]
  return [
    ['httpProxy', kdeProxyValue('http', desired.http)],
    ['httpsProxy', kdeProxyValue('http', desired.https)],
    ['socksProxy', desired.socks ? kdeProxyValue('socks', desired.socks) : null],
    ['NoProxyFor', desired.bypass.join(',')],
    ['ReversedException', 'false'],
    ['ProxyType', TYPE.manual]
  ]
}

export function createKdePlatform(
  run: CommandRunner = runCommand,
  env: NodeJS.ProcessEnv = process.env
): SystemProxyPlatform {
  const version = env.KDE_SESSION_VERSION === '6' ? '6' : '5'
  const options = { env }
  const read = async (key: string): Promise<string | null> => {
    const args = ['--file', FILE, '--group', GROUP, '--key', key, '--default', ABSENT]
    const value = (await run(`kreadconfig${version}`, args, options)).stdout.replace(/\n$/, '')
    return value === ABSENT ? null : value
  }
  const writeCommand = (key: string, value: string | null): string[] => [
    `kwriteconfig${version}`,
    '--file',
    FILE,
    '--group',
    GROUP,
    '--key',
    key,
    ...(value === null ? ['--delete'] : [value])
  ]
  const write = (key: string, value: string | null) => {
    const [file, ...args] = writeCommand(key, value)
    return run(file!, args, options)
  }
  // Running KIO clients re-read kioslaverc on this signal; without a session bus there are none to tell.
  const notifyCommand = [
    'dbus-send',
    '--type=signal',
    '/KIO/Scheduler',
    'org.kde.KIO.Scheduler.reparseSlaveConfiguration',
    'string:'
  ]
  const notify = () => run(notifyCommand[0]!, notifyCommand.slice(1), options).catch(() => undefined)

  // Where KConfig keeps it: $XDG_CONFIG_HOME, else ~/.config.
  const file = path.join(env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config'), FILE)
  const exists = () =>
    fs.stat(file).then(
      (stat) => stat,
      () => null
    )

  /** Every key written back (absent ones deleted); the file removed if Junction created it and left it empty. */
  const restorePlan = (snapshot: OsSnapshot): RestorePlan => {
    const { values, fileExisted } = snapshot.data as KdeSnapshot
    const steps: RestoreStep[] = KDE_KEYS.map((key) => ({ command: writeCommand(key, values[key]) }))
    // Only an empty file is removed: anything else in it is not Junction's.
    if (!fileExisted) steps.push({ removeIfEmpty: file })
    steps.push({ command: notifyCommand, optional: true })
    return { steps }
  }

  return {
    id: 'kde',
    async snapshot(): Promise<OsSnapshot> {
      const values = {} as KdeValues
      for (const key of KDE_KEYS) values[key] = await read(key)
      const data: KdeSnapshot = { values, fileExisted: (await exists()) !== null }
      return { platform: 'kde', data }
    },
    view: (snapshot) => viewKde((snapshot.data as KdeSnapshot).values),
    async apply(desired) {
      for (const [key, value] of kdeWrites(desired)) await write(key, value)
      await notify()
    },
    restorePlan,
    restore: (snapshot) => runPlan(restorePlan(snapshot), (file, args) => run(file, args, options))
  }
}
