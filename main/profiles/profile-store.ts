/**
 * The user's profiles, kept in `<data dir>/profiles.json`. The built-in Direct profile is not stored:
 * it always exists and cannot be changed. Every change is validated as a whole before it is written,
 * and the in-memory copy changes only after the file was saved.
 */
import path from 'node:path'
import { DIRECT_PROFILE, type Profile } from '../../common/model.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { JsonFile } from '../config/json-file.ts'
import { parseProfile } from '../rules/validate.ts'
import { openSecrets, SEALED_PREFIX, type SecretCodec } from './secrets.ts'

export const PROFILES_FILE = 'profiles.json'
export const PROFILES_VERSION = 1

interface ProfilesDoc {
  profiles: Profile[]
}

function parseDoc(data: unknown): Result<ProfilesDoc> {
  const list = (data as { profiles?: unknown } | null)?.profiles
  if (!Array.isArray(list)) return fail('invalid-input', 'the "profiles" field must be a list')
  const profiles: Profile[] = []
  const details: string[] = []
  const ids = new Set<string>([DIRECT_PROFILE.id])
  for (const raw of list) {
    const parsed = parseProfile(raw)
    if (!parsed.ok) details.push(...(parsed.error.details ?? [parsed.error.message]))
    else if (ids.has(parsed.value.id)) details.push(`profile id "${parsed.value.id}" is used twice`)
    else {
      ids.add(parsed.value.id)
      profiles.push(parsed.value)
    }
  }
  return details.length > 0 ? fail('invalid-input', details[0]!, details) : ok({ profiles })
}

export class ProfileStore {
  private readonly file: JsonFile<ProfilesDoc>
  private readonly secrets: SecretCodec | null
  private profiles: Profile[] = []
  /** Sealed passwords this process cannot open, written back as they were. */
  private unopened = new Map<string, string>()

  private constructor(file: JsonFile<ProfilesDoc>, secrets: SecretCodec | null) {
    this.file = file
    this.secrets = secrets
  }

  /**
   * Loads the profiles; `problem` says what was wrong with the file if it could not be used.
   * With `secrets`, upstream passwords are sealed on disk (see secrets.ts).
   */
  static async open(
    dataDir: string,
    secrets: SecretCodec | null = null
  ): Promise<{ store: ProfileStore; problem: string | null }> {
    const secretProblems: string[] = []
    let unopened = new Map<string, string>()
    const file = new JsonFile<ProfilesDoc>({
      path: path.join(dataDir, PROFILES_FILE),
      version: PROFILES_VERSION,
      defaults: () => ({ profiles: [] }),
      parse: (data) => {
        unopened = openSecrets(data, secrets, secretProblems)
        return parseDoc(data)
      }
    })
    const store = new ProfileStore(file, secrets)
    const loaded = await file.load()
    store.profiles = loaded.value.profiles
    store.unopened = loaded.problem ? new Map() : unopened
    return { store, problem: [loaded.problem, ...secretProblems].filter(Boolean).join('; ') || null }
  }

  /** The profiles as written to disk: passwords sealed when a keychain is available. */
  private forDisk(profiles: Profile[]): Profile[] {
    return profiles.map((profile) => ({
      ...profile,
      upstreams: profile.upstreams.map((u) => {
        const kept = u.password === undefined ? this.unopened.get(`${profile.id}/${u.id}`) : undefined
        if (kept !== undefined) return { ...u, password: kept }
        if (u.password === undefined || !this.secrets) return u
        return { ...u, password: SEALED_PREFIX + this.secrets.seal(u.password) }
      })
    }))
  }

  /** Direct first, then the user's profiles in the order they were created. */
  list(): Profile[] {
    return [DIRECT_PROFILE, ...this.profiles]
  }

  get(id: string): Profile | undefined {
    return this.list().find((p) => p.id === id)
  }

  /** Creates or replaces a profile (matched by id) after validating it. */
  async put(input: unknown): Promise<Result<Profile>> {
    const parsed = parseProfile(input)
    if (!parsed.ok) return parsed
    const profile = parsed.value
    if (profile.id === DIRECT_PROFILE.id)
      return fail('read-only', 'The built-in Direct profile cannot be changed')
    const clash = this.profiles.find((p) => p.name === profile.name && p.id !== profile.id)
    if (clash) return fail('conflict', `A profile named "${profile.name}" already exists`)
    const next = this.profiles.some((p) => p.id === profile.id)
      ? this.profiles.map((p) => (p.id === profile.id ? profile : p))
      : [...this.profiles, profile]
    const saved = await this.commit(next)
    return saved.ok ? ok(profile) : saved
  }

  async remove(id: string): Promise<Result<void>> {
    if (id === DIRECT_PROFILE.id) return fail('read-only', 'The built-in Direct profile cannot be deleted')
    if (!this.profiles.some((p) => p.id === id)) return fail('not-found', `No profile with id "${id}"`)
    return this.commit(this.profiles.filter((p) => p.id !== id))
  }

  private async commit(next: Profile[]): Promise<Result<void>> {
    const saved = await this.file.save({ profiles: this.forDisk(next) })
    if (saved.ok) this.profiles = next
    return saved
  }
}
