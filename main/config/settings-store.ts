/**
 * Engine settings in `<data dir>/settings.json`: listen address and port, the active profile, system
 * proxy, timeouts, Via and desktop options.
 *
 * Settings gain fields over time without a format version bump: a field missing from the file takes
 * its default, including a field missing from a group (`timeouts`, `systemProxy`, `desktop`), so a
 * file written before the field existed loads as it was instead of being moved aside as invalid.
 */
import { X509Certificate } from 'node:crypto'
import path from 'node:path'
import { DEFAULT_SETTINGS, SettingsSchema, type Settings } from '../../common/model.ts'
import type { SettingsPatch } from '../../common/ipc-payloads.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { JsonFile } from './json-file.ts'

export const SETTINGS_FILE = 'settings.json'
export const SETTINGS_VERSION = 1

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** The object-valued settings, whose fields are merged one by one rather than replaced as a whole. */
const GROUPS = ['systemProxy', 'timeouts', 'desktop'] as const satisfies readonly (keyof Settings)[]

/**
 * `patch` laid over `base`: top-level fields replace, a group's fields merge into the base group. A
 * group that is not an object is kept as it is, so validation reports it.
 */
function merge(base: Settings, patch: object): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base, ...patch }
  for (const group of GROUPS) {
    const value: unknown = (patch as Record<string, unknown>)[group]
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      merged[group] = { ...base[group], ...value }
  }
  return merged
}

function parseSettings(merged: Record<string, unknown>): Result<Settings> {
  const parsed = SettingsSchema.safeParse(merged)
  if (parsed.success) {
    // Anyone on the network could use an open proxy: LAN access needs credentials.
    if (!LOOPBACK.has(parsed.data.listenHost) && !parsed.data.proxyAuth)
      return fail(
        'invalid-input',
        `Listening on ${parsed.data.listenHost} (LAN access) needs a proxy username and password`,
        ['proxyAuth: required when listenHost is not loopback']
      )
    // A certificate that does not parse would fail every intercepted request; say which one now.
    for (const [i, pem] of parsed.data.trustedCas.entries()) {
      try {
        new X509Certificate(pem)
      } catch (error) {
        const detail = `trustedCas.${i}: not a readable certificate (${(error as Error).message})`
        return fail('invalid-input', `Invalid settings: ${detail}`, [detail])
      }
    }
    return ok(parsed.data)
  }
  const details = parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`)
  return fail('invalid-input', `Invalid settings: ${details[0]}`, details)
}

export class SettingsStore {
  private readonly file: JsonFile<Settings>
  private current: Settings = { ...DEFAULT_SETTINGS }

  private constructor(file: JsonFile<Settings>) {
    this.file = file
  }

  static async open(dataDir: string): Promise<{ store: SettingsStore; problem: string | null }> {
    const file = new JsonFile<Settings>({
      path: path.join(dataDir, SETTINGS_FILE),
      version: SETTINGS_VERSION,
      defaults: () => ({ ...DEFAULT_SETTINGS }),
      parse: (data) => parseSettings(merge(DEFAULT_SETTINGS, data as object))
    })
    const store = new SettingsStore(file)
    const loaded = await file.load()
    store.current = loaded.value
    return { store, problem: loaded.problem }
  }

  get(): Settings {
    return { ...this.current }
  }

  /** Validates and saves a change; see `SettingsPatchSchema` for how groups merge. */
  async update(patch: SettingsPatch): Promise<Result<Settings>> {
    const parsed = parseSettings(merge(this.current, patch))
    if (!parsed.ok) return parsed
    const saved = await this.file.save(parsed.value)
    if (!saved.ok) return saved
    this.current = parsed.value
    return ok(parsed.value)
  }
}
