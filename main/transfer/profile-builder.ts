/**
 * Builds one Junction profile from another tool's pieces: upstreams and groups get ids made from
 * their names, rules are numbered in order, and every matcher value is checked as the engine will
 * check it when saved — a value Junction cannot use (a regex RE2 cannot run, a malformed CIDR) drops
 * its rule into the import summary instead of failing the whole import.
 */
import { randomBytes } from 'node:crypto'
import { checkMatcherValue } from '../../common/matcher-checks.ts'
import {
  UpstreamSchema,
  type Action,
  type GroupStrategy,
  type Matcher,
  type Profile,
  type Rule,
  type Upstream,
  type UpstreamGroup
} from '../../common/model.ts'
import type { SkipList } from './import-summary.ts'

/** Ids allow letters, digits, `-` and `_` (common/model.ts), at most 64 characters. */
function slug(name: string): string {
  const text = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase()
    .slice(0, 40)
  return text || 'item'
}

/** A fresh profile id: an import never replaces a profile the user already has. */
export function newProfileId(name: string): string {
  return `${slug(name).slice(0, 24)}-${randomBytes(4).toString('hex')}`
}

export class ProfileBuilder {
  private readonly upstreams: Upstream[] = []
  private readonly groups: UpstreamGroup[] = []
  private readonly rules: Rule[] = []
  private readonly taken = new Set<string>()
  private readonly ruleKeys = new Set<string>()
  private defaultAction: Action = { type: 'direct' }
  private readonly name: string
  private readonly skipped: SkipList

  constructor(name: string, skipped: SkipList) {
    this.name = name
    this.skipped = skipped
  }

  private uniqueId(name: string): string {
    const base = slug(name)
    let id = base
    for (let n = 2; this.taken.has(id); n++) id = `${base}-${n}`
    this.taken.add(id)
    return id
  }

  /**
   * Adds an upstream and returns its id, or lists it as skipped and returns null when the profile
   * could not be saved with it (a 300-character host, a user name with `:` for an HTTP proxy …).
   */
  addUpstream(upstream: Omit<Upstream, 'id'>): string | null {
    const named = { ...upstream, name: upstream.name.slice(0, 100) || `${upstream.host}:${upstream.port}` }
    const id = this.uniqueId(named.name)
    const checked = UpstreamSchema.safeParse({ id, ...named })
    // RFC 7617: a Basic-auth user-id cannot contain a colon (validate.ts refuses it for HTTP(S) proxies).
    const colon = (named.scheme === 'http' || named.scheme === 'https') && named.username?.includes(':')
    if (!checked.success || colon) {
      this.taken.delete(id)
      this.skipped.skip('proxies Junction cannot use (bad address or login)', named.name)
      return null
    }
    this.upstreams.push(checked.data)
    return id
  }

  addGroup(name: string, strategy: GroupStrategy, members: string[]): string {
    const id = this.uniqueId(name)
    this.groups.push({ id, name: name.slice(0, 100), strategy, members })
    return id
  }

  upstream(id: string): Upstream | undefined {
    return this.upstreams.find((u) => u.id === id)
  }

  isGroup(id: string): boolean {
    return this.groups.some((g) => g.id === id)
  }

  /**
   * Adds a rule unless a matcher value is unusable; then the rule is listed as skipped and false is
   * returned. `source` is how the file wrote it, for the summary.
   */
  addRule(matchers: Matcher[], action: Action, source: string, name?: string): boolean {
    for (const matcher of matchers) {
      const problem = checkMatcherValue(matcher)
      if (problem === null) continue
      this.skipped.skip(
        matcher.type === 'regex'
          ? "regular expressions Junction's RE2 engine cannot run (lookarounds, backreferences …)"
          : 'conditions with values Junction cannot read',
        source
      )
      return false
    }
    // Two spellings of one condition (SwitchyOmega's `<local>` next to `127.0.0.1`) make one rule.
    const key = JSON.stringify([matchers, action])
    if (this.ruleKeys.has(key)) return true
    this.ruleKeys.add(key)
    this.rules.push({
      id: `r${this.rules.length + 1}`,
      ...(name ? { name: name.slice(0, 200) } : {}),
      enabled: true,
      matchers,
      action
    })
    return true
  }

  setDefault(action: Action): void {
    this.defaultAction = action
  }

  build(): Profile {
    return {
      id: newProfileId(this.name),
      name: this.name.slice(0, 100),
      upstreams: this.upstreams,
      ...(this.groups.length > 0 ? { groups: this.groups } : {}),
      rules: this.rules,
      defaultAction: this.defaultAction
    }
  }
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * A value read from a file as text for names and the summary. `String()` is not safe here: a parsed
 * `{"toString": 0}` makes it throw. Objects and arrays are shown as short JSON instead.
 */
export function text(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value)
  const json = JSON.stringify(value)
  return json.length > 80 ? `${json.slice(0, 79)}…` : json
}

/**
 * `table[key]` for a key read from a file, own entries only: `table['constructor']` would otherwise
 * be Object's constructor, and a proxy "of type constructor" would slip through as a function.
 */
export function lookup<T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined {
  const name = text(key)
  return Object.hasOwn(table, name) ? table[name] : undefined
}

/** A port number from a file that may write it as a string (`"3128"`); null when it is not one. */
export function readPort(value: unknown): number | null {
  const port = typeof value === 'string' && /^\d{1,5}$/.test(value.trim()) ? Number(value) : value
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535 ? port : null
}

/** Hosts as the model accepts them: IPv6 literals without brackets are fine, brackets are dropped. */
export function readHost(value: unknown): string | null {
  if (typeof value !== 'string') return null
  const host = value.trim().replace(/^\[(.*)\]$/, '$1')
  return /^[^\s/@?#]{1,253}$/.test(host) ? host : null
}
