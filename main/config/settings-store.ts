/**
 * Engine settings in `<data dir>/settings.json`: listen address and port, and the active profile.
 */
import path from 'node:path'
import { DEFAULT_SETTINGS, SettingsSchema, type Settings } from '../../common/model.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { JsonFile } from './json-file.ts'

export const SETTINGS_FILE = 'settings.json'
export const SETTINGS_VERSION = 1

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

function parseSettings(data: unknown): Result<Settings> {
  const parsed = SettingsSchema.safeParse({ ...DEFAULT_SETTINGS, ...(data as object) })
  if (parsed.success) {
    // Anyone on the network could use an open proxy: LAN access needs credentials.
    if (!LOOPBACK.has(parsed.data.listenHost) && !parsed.data.proxyAuth)
      return fail(
        'invalid-input',
        `Listening on ${parsed.data.listenHost} (LAN access) needs a proxy username and password`,
        ['proxyAuth: required when listenHost is not loopback']
      )
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
      parse: parseSettings
    })
    const store = new SettingsStore(file)
    const loaded = await file.load()
    store.current = loaded.value
    return { store, problem: loaded.problem }
  }

  get(): Settings {
    return { ...this.current }
  }

  async update(patch: Partial<Settings>): Promise<Result<Settings>> {
    const parsed = parseSettings({ ...this.current, ...patch })
    if (!parsed.ok) return parsed
    const saved = await this.file.save(parsed.value)
    if (!saved.ok) return saved
    this.current = parsed.value
    return ok(parsed.value)
  }
}
