/**
 * Engine settings in `<data dir>/settings.json`: listen address and port, the active profile, system
 * proxy, timeouts, Via and desktop options.
 *
 * Settings gain fields over time without a format version bump: a field missing from the file takes
 * its default, including a field missing from a group (`timeouts`, `systemProxy`, `desktop`), so a
 * file written before the field existed loads as it was. The other way round, fields this build does
 * not know (written by a newer Junction) are kept and written back on save.
 *
 * Loading is lenient, changing is strict. An invalid field in the file takes its default and is
 * reported by name; every valid field (the port above all) is kept, and the file is left as it is
 * (see json-file.ts for when it is replaced). LAN access without credentials falls back to listening
 * on loopback, with a warning, rather than refusing the whole file. A change from a UI that would make
 * any field invalid is refused as a whole, with the same messages.
 */
import { X509Certificate } from 'node:crypto'
import path from 'node:path'
import { DEFAULT_SETTINGS, SettingsSchema, type Settings } from '../../common/model.ts'
import type { SettingsPatch } from '../../common/ipc-payloads.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { JsonFile } from './json-file.ts'
import { unknownFields, withFields, type Fields } from './unknown-fields.ts'

export const SETTINGS_FILE = 'settings.json'
export const SETTINGS_VERSION = 1

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** The object-valued settings, whose fields are merged one by one rather than replaced as a whole. */
const GROUPS = ['systemProxy', 'timeouts', 'desktop'] as const satisfies readonly (keyof Settings)[]
type Group = (typeof GROUPS)[number]
const isGroup = (key: unknown): key is Group => GROUPS.includes(key as Group)

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * `patch` laid over `base`: top-level fields replace, a group's fields merge into the base group. A
 * group that is not an object is kept as it is, so validation reports it.
 */
function merge(base: Settings, patch: object): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base, ...patch }
  for (const group of GROUPS) {
    const value: unknown = (patch as Record<string, unknown>)[group]
    if (isObject(value)) merged[group] = { ...base[group], ...value }
  }
  return merged
}

/** Anyone on the network could use an open proxy: LAN access needs credentials. */
const lanWithoutAuth = (settings: Settings): boolean =>
  !LOOPBACK.has(settings.listenHost) && !settings.proxyAuth

/** A certificate that does not parse would fail every intercepted request; say which one now. */
function unreadableCas(settings: Settings): { index: number; detail: string }[] {
  const bad: { index: number; detail: string }[] = []
  for (const [index, pem] of settings.trustedCas.entries()) {
    try {
      new X509Certificate(pem)
    } catch (error) {
      bad.push({
        index,
        detail: `trustedCas.${index}: not a readable certificate (${(error as Error).message})`
      })
    }
  }
  return bad
}

/** For changes: any invalid field refuses the whole change. */
function parseSettings(merged: Record<string, unknown>): Result<Settings> {
  const parsed = SettingsSchema.safeParse(merged)
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`)
    return fail('invalid-input', `Invalid settings: ${details[0]}`, details)
  }
  if (lanWithoutAuth(parsed.data))
    return fail(
      'invalid-input',
      `Listening on ${parsed.data.listenHost} (LAN access) needs a proxy username and password`,
      ['proxyAuth: required when listenHost is not loopback']
    )
  const [badCa] = unreadableCas(parsed.data)
  if (badCa) return fail('invalid-input', `Invalid settings: ${badCa.detail}`, [badCa.detail])
  return ok(parsed.data)
}

/**
 * For the file: each invalid field takes its default (an invalid entry of `trustedCas` is dropped),
 * the rest is kept, and every replacement is listed.
 */
export function loadSettings(data: Record<string, unknown>): { value: Settings; problems: string[] } {
  const merged = merge(DEFAULT_SETTINGS, data)
  const problems: string[] = []
  const dropCas = new Set<number>()
  const parsed = SettingsSchema.safeParse(merged)
  if (!parsed.success) {
    // zod may list several issues for one field ([] for a host: wrong type, too short); one is enough.
    const replaced = new Set<string>()
    for (const issue of parsed.error.issues) {
      const [top, sub] = issue.path
      const where = issue.path.join('.')
      const key = isGroup(top) && typeof sub === 'string' ? `${top}.${sub}` : String(top)
      if (replaced.has(key) || replaced.has(String(top))) continue
      if (!(top === 'trustedCas' && typeof sub === 'number')) replaced.add(key)
      if (top === 'trustedCas' && typeof sub === 'number') {
        dropCas.add(sub)
        problems.push(`${where}: ${issue.message} (left out)`)
      } else if (isGroup(top) && typeof sub === 'string' && sub in DEFAULT_SETTINGS[top]) {
        const fallback = DEFAULT_SETTINGS[top][sub as keyof Settings[Group]]
        merged[top] = { ...(merged[top] as object), [sub]: fallback }
        problems.push(`${top}.${sub}: ${issue.message} (using the default, ${JSON.stringify(fallback)})`)
      } else if (typeof top === 'string' && top in DEFAULT_SETTINGS) {
        const fallback = DEFAULT_SETTINGS[top as keyof Settings]
        merged[top] = fallback
        problems.push(`${where || top}: ${issue.message} (using the default, ${JSON.stringify(fallback)})`)
      }
    }
    if (Array.isArray(merged.trustedCas))
      merged.trustedCas = (merged.trustedCas as unknown[]).filter((_, i) => !dropCas.has(i))
  }
  const repaired = SettingsSchema.safeParse(merged)
  // Every issue was replaced by a default above, so this holds; the guard keeps a surprise visible.
  if (!repaired.success) {
    problems.push(`settings: ${repaired.error.issues[0]?.message ?? 'invalid'} (all defaults loaded)`)
    return { value: { ...DEFAULT_SETTINGS }, problems }
  }
  const settings = repaired.data
  for (const { index, detail } of unreadableCas(settings).reverse()) {
    settings.trustedCas = settings.trustedCas.filter((_, i) => i !== index)
    problems.push(`${detail} (left out)`)
  }
  if (lanWithoutAuth(settings)) {
    problems.push(
      `listenHost "${settings.listenHost}" (LAN access) needs proxyAuth (a username and password): listening on 127.0.0.1 only until credentials are set`
    )
    settings.listenHost = DEFAULT_SETTINGS.listenHost
  }
  return { value: settings, problems }
}

/** What a newer Junction wrote that this one does not know: top-level fields and fields in groups. */
interface KeptFields {
  top: Fields
  groups: Partial<Record<Group, Fields>>
}

function keptFields(data: Record<string, unknown>): KeptFields {
  const groups: Partial<Record<Group, Fields>> = {}
  for (const group of GROUPS)
    groups[group] = unknownFields(data[group], Object.keys(SettingsSchema.shape[group].shape))
  return { top: unknownFields(data, Object.keys(SettingsSchema.shape)), groups }
}

export class SettingsStore {
  private readonly file: JsonFile<Settings>
  private current: Settings = { ...DEFAULT_SETTINGS }
  private kept: KeptFields = { top: {}, groups: {} }

  private constructor(file: JsonFile<Settings>) {
    this.file = file
  }

  static async open(dataDir: string): Promise<{ store: SettingsStore; problem: string | null }> {
    let kept: KeptFields = { top: {}, groups: {} }
    const file = new JsonFile<Settings>({
      path: path.join(dataDir, SETTINGS_FILE),
      version: SETTINGS_VERSION,
      defaults: () => ({ ...DEFAULT_SETTINGS }),
      parse: (data) => {
        kept = keptFields(data)
        return ok(loadSettings(data))
      }
    })
    const store = new SettingsStore(file)
    const loaded = await file.load()
    store.current = loaded.value
    store.kept = kept
    return { store, problem: loaded.problem }
  }

  get(): Settings {
    return { ...this.current }
  }

  /** Validates and saves a change; see `SettingsPatchSchema` for how groups merge. */
  async update(patch: SettingsPatch): Promise<Result<Settings>> {
    const parsed = parseSettings(merge(this.current, patch))
    if (!parsed.ok) return parsed
    const saved = await this.file.save(this.forDisk(parsed.value))
    if (!saved.ok) return saved
    this.current = parsed.value
    return ok(parsed.value)
  }

  private forDisk(settings: Settings): object {
    const doc: Record<string, unknown> = withFields(this.kept.top, { ...settings })
    for (const group of GROUPS) doc[group] = withFields(this.kept.groups[group], { ...settings[group] })
    return doc
  }
}
