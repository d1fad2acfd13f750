/**
 * The user's profiles, kept in `<data dir>/profiles.json`. The built-in Direct profile is not stored:
 * it always exists and cannot be changed. Every change is validated as a whole before it is written,
 * and the in-memory copy changes only after the file was saved.
 *
 * Loading keeps what it can: an invalid profile is left out without taking the others with it, and an
 * invalid rule is left out of an otherwise valid profile; each is reported once, naming the profile,
 * the rule and the field. The file is left as it is until a change is saved (json-file.ts keeps a copy
 * of the original first). Fields this build does not know — on the document, a profile, an upstream or
 * a rule — are written back as they were.
 */
import path from 'node:path'
import {
  DIRECT_PROFILE,
  ProfileSchema,
  RuleSchema,
  UpstreamSchema,
  type Profile,
  type Rule
} from '../../common/model.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { JsonFile } from '../config/json-file.ts'
import { LineList } from '../config/json-text.ts'
import { unknownFields, withFields, type Fields } from '../config/unknown-fields.ts'
import { parseProfile } from '../rules/validate.ts'
import { openSecrets, SEALED_PREFIX, type SecretCodec } from './secrets.ts'

export const PROFILES_FILE = 'profiles.json'
export const PROFILES_VERSION = 1

interface ProfilesDoc {
  profiles: Profile[]
}

const PROFILE_FIELDS = Object.keys(ProfileSchema.shape)
const UPSTREAM_FIELDS = Object.keys(UpstreamSchema.shape)
const RULE_FIELDS = Object.keys(RuleSchema.shape)

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** How a stored profile is named in messages: by name, else id, with its position. */
function profileLabel(raw: unknown, index: number): string {
  const name = isObject(raw) ? (raw.name ?? raw.id) : undefined
  return typeof name === 'string' ? `profile "${name}" (#${index + 1})` : `profile #${index + 1}`
}

/** As validate.ts names a rule; used to tell a lone rule's messages from the profile's. */
function ruleLabel(raw: unknown, index: number): string {
  const name =
    isObject(raw) && typeof raw.name === 'string' && raw.name ? raw.name : isObject(raw) ? raw.id : undefined
  return typeof name === 'string' ? `rule "${name}" (#${index + 1})` : `rule #${index + 1}`
}

/**
 * One stored profile, keeping the rules that are valid on their own. A profile whose other parts
 * (name, upstreams, default action) are invalid is refused as a whole: without them no rule means
 * what it said.
 */
interface Salvaged {
  profile: Profile | null
  problems: string[]
  /** The stored rules the profile kept, as written (for their unknown fields). */
  rules: unknown[]
}

function salvageProfile(raw: unknown, index: number): Salvaged {
  const label = profileLabel(raw, index)
  const whole = parseProfile(raw)
  if (whole.ok) return { profile: whole.value, problems: [], rules: (raw as { rules: unknown[] }).rules }
  const wholeDetails = whole.error.details ?? [whole.error.message]
  const fields = isObject(raw) ? raw : {}
  const rules = Array.isArray(fields.rules) ? fields.rules : null
  const base = rules ? parseProfile({ ...fields, rules: [] }) : whole
  if (!rules || !base.ok)
    return { profile: null, problems: [`${label} was left out: ${wholeDetails.join('; ')}`], rules: [] }

  // Each rule checked alone against the profile's upstreams; ids must stay unique among those kept.
  const problems: string[] = []
  const kept: unknown[] = []
  const ids = new Set<string>()
  for (const [i, rule] of rules.entries()) {
    const alone = parseProfile({ ...fields, rules: [rule] })
    const lone = ruleLabel(rule, 0)
    const where = `${label}, ${ruleLabel(rule, i)}`
    if (!alone.ok) {
      const details = (alone.error.details ?? [alone.error.message]).map((d) =>
        d.startsWith(lone) ? d.slice(lone.length).replace(/^[,:] /, '') : d
      )
      problems.push(`${where} was left out: ${details.join('; ')}`)
    } else if (ids.has(alone.value.rules[0]!.id)) {
      problems.push(`${where} was left out: id "${alone.value.rules[0]!.id}" is used twice`)
    } else {
      ids.add(alone.value.rules[0]!.id)
      kept.push(rule)
    }
  }
  const salvaged = parseProfile({ ...fields, rules: kept })
  // Every rule passed alone, yet the whole did not: say what the whole check said.
  if (salvaged.ok && problems.length === 0) problems.push(`${label}: ${wholeDetails.join('; ')}`)
  if (!salvaged.ok)
    return { profile: null, problems: [`${label} was left out: ${wholeDetails.join('; ')}`], rules: [] }
  return { profile: salvaged.value, problems, rules: kept }
}

/** Fills `kept` with the unknown fields of the profiles it keeps (see keepUnknown). */
function parseDoc(
  data: Record<string, unknown>,
  kept: Map<string, Fields>
): Result<{ value: ProfilesDoc; problems: string[] }> {
  const list = data.profiles
  if (!Array.isArray(list)) return fail('invalid-input', 'the "profiles" field must be a list')
  const profiles: Profile[] = []
  const problems: string[] = []
  const ids = new Set<string>([DIRECT_PROFILE.id])
  for (const [i, raw] of list.entries()) {
    const { profile, problems: found, rules } = salvageProfile(raw, i)
    problems.push(...found)
    if (!profile) continue
    if (ids.has(profile.id))
      problems.push(`${profileLabel(raw, i)} was left out: id "${profile.id}" is used twice`)
    else {
      ids.add(profile.id)
      profiles.push(profile)
      keepUnknown(kept, profile.id, raw as Record<string, unknown>, rules)
    }
  }
  return ok({ value: { profiles }, problems })
}

/**
 * Unknown fields of a kept profile and of its upstreams and kept rules, by `id` path. Taken from the
 * stored entries that were kept, so a left-out duplicate cannot lend its fields to the one kept.
 */
function keepUnknown(
  kept: Map<string, Fields>,
  profileId: string,
  raw: Record<string, unknown>,
  rules: unknown[]
): void {
  kept.set(profileId, unknownFields(raw, PROFILE_FIELDS))
  for (const [key, items, fields] of [
    ['upstreams', raw.upstreams as unknown[], UPSTREAM_FIELDS],
    ['rules', rules, RULE_FIELDS]
  ] as const)
    for (const item of items)
      if (isObject(item) && typeof item.id === 'string')
        kept.set(`${profileId}/${key}/${item.id}`, unknownFields(item, fields))
}

export class ProfileStore {
  private readonly file: JsonFile<ProfilesDoc>
  private readonly secrets: SecretCodec | null
  private profiles: Profile[] = []
  /** Sealed passwords this process cannot open, written back as they were. */
  private unopened = new Map<string, string>()
  private kept = new Map<string, Fields>()
  /** Each rule's line in profiles.json, by profile id (unknown fields kept are a profile's own). */
  private readonly lines = new Map<string, WeakMap<Rule, string>>()

  private constructor(file: JsonFile<ProfilesDoc>, secrets: SecretCodec | null) {
    this.file = file
    this.secrets = secrets
  }

  /**
   * Loads the profiles; `problem` says what was wrong with the file, if anything.
   * With `secrets`, upstream passwords are sealed on disk (see secrets.ts).
   */
  static async open(
    dataDir: string,
    secrets: SecretCodec | null = null
  ): Promise<{ store: ProfileStore; problem: string | null }> {
    const secretProblems: string[] = []
    let unopened = new Map<string, string>()
    let kept = new Map<string, Fields>()
    const file = new JsonFile<ProfilesDoc>({
      path: path.join(dataDir, PROFILES_FILE),
      version: PROFILES_VERSION,
      defaults: () => ({ profiles: [] }),
      parse: (data) => {
        kept = new Map([['', unknownFields(data, ['profiles'])]])
        unopened = openSecrets(data, secrets, secretProblems)
        return parseDoc(data, kept)
      }
    })
    const store = new ProfileStore(file, secrets)
    const loaded = await file.load()
    store.profiles = loaded.value.profiles
    store.unopened = unopened
    store.kept = kept
    return { store, problem: [loaded.problem, ...secretProblems].filter(Boolean).join('; ') || null }
  }

  /**
   * The upstreams whose passwords are on disk as written (no keychain), as `profile/upstream` names;
   * never the passwords.
   */
  unsealedPasswords(): string[] {
    if (this.secrets) return []
    return this.profiles.flatMap((p) =>
      p.upstreams.filter((u) => u.password !== undefined).map((u) => `${p.name}/${u.name}`)
    )
  }

  /** The profiles as written to disk: passwords sealed when a keychain is available, unknown fields kept. */
  private forDisk(profiles: Profile[]): object {
    const kept = (key: string) => this.kept.get(key)
    return withFields(kept(''), {
      profiles: profiles.map((profile) =>
        withFields(kept(profile.id), {
          ...profile,
          upstreams: profile.upstreams.map((u) => {
            const stored = withFields(kept(`${profile.id}/upstreams/${u.id}`), { ...u })
            const sealed = u.password === undefined ? this.unopened.get(`${profile.id}/${u.id}`) : undefined
            if (sealed !== undefined) return { ...stored, password: sealed }
            if (u.password === undefined || !this.secrets) return stored
            return { ...stored, password: SEALED_PREFIX + this.secrets.seal(u.password) }
          }),
          rules: this.ruleLines(profile)
        })
      )
    })
  }

  /**
   * A profile's rules as the lines of profiles.json, one JSON object each. A line is made once per rule
   * object and kept while the rule is: a per-rule edit keeps every other rule object, so saving it
   * writes one new line and copies 100,000 (bench/rule-save.ts).
   */
  private ruleLines(profile: Profile): LineList {
    let lines = this.lines.get(profile.id)
    if (!lines) {
      lines = new WeakMap()
      this.lines.set(profile.id, lines)
    }
    const out: string[] = []
    for (const rule of profile.rules) {
      let line = lines.get(rule)
      if (line === undefined) {
        line = JSON.stringify(withFields(this.kept.get(`${profile.id}/rules/${rule.id}`), { ...rule }))
        lines.set(rule, line)
      }
      out.push(line)
    }
    return new LineList(out)
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

  /**
   * Replaces one profile's rule list with rules the caller has validated (rule-edits.ts checks the
   * rules an edit brings in; the rest were valid when saved), so a per-rule save at 100,000 rules does
   * not check every rule again. The rest of the profile is kept as stored.
   */
  async putRules(profileId: string, rules: Rule[]): Promise<Result<Profile>> {
    if (profileId === DIRECT_PROFILE.id)
      return fail('read-only', 'The built-in Direct profile has no rules to change')
    const current = this.profiles.find((p) => p.id === profileId)
    if (!current) return fail('not-found', `No profile with id "${profileId}"`)
    const profile = { ...current, rules }
    const saved = await this.commit(this.profiles.map((p) => (p.id === profileId ? profile : p)))
    return saved.ok ? ok(profile) : saved
  }

  async remove(id: string): Promise<Result<void>> {
    if (id === DIRECT_PROFILE.id) return fail('read-only', 'The built-in Direct profile cannot be deleted')
    if (!this.profiles.some((p) => p.id === id)) return fail('not-found', `No profile with id "${id}"`)
    const removed = await this.commit(this.profiles.filter((p) => p.id !== id))
    if (removed.ok) this.lines.delete(id)
    return removed
  }

  private async commit(next: Profile[]): Promise<Result<void>> {
    const saved = await this.file.save(this.forDisk(next))
    if (saved.ok) this.profiles = next
    return saved
  }
}
