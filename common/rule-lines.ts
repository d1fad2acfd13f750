/**
 * Rules written one per line, as people paste them into the Rules view:
 *
 *   domain example.com block            host a.b direct           regex ^ads\. block 451
 *   ip 10.0.0.0/8 upstream Squid        port 8000-8999 reject     domain x.com and port 443 → Pool
 *
 * A line is one or more `<kind> <value>` matchers joined by `and`, then an action: `direct`, `reject`,
 * `block` (403) or `block <status>`, or `upstream <name>` (also `via <name>` or `→ <name>`) naming an
 * upstream or a group of the profile by name or id. Values cannot contain spaces. Clash lines
 * (`DOMAIN-SUFFIX,example.com,Proxy`) are read too, since that is what users of Clash have at hand.
 * Blank lines, lines starting with `#` or `//`, and anything after ` #` are skipped.
 *
 * Every problem is reported for its line in words a person can act on; nothing here throws. Pure.
 */
import { checkMatcherValue } from './matcher-checks.ts'
import { MatcherSchema, type Action, type Matcher, type Profile, type Rule } from './model.ts'

export interface RuleLine {
  /** 1-based, as an editor numbers lines. */
  line: number
  text: string
  rule?: Rule
  error?: string
}

const KINDS = [
  'domain',
  'host',
  'wildcard',
  'regex',
  'ip',
  'port',
  'protocol',
  'path',
  'method',
  'header'
] as const
const KIND_LIST = `${KINDS.slice(0, -1).join(', ')} or ${KINDS.at(-1)}`
const ACTIONS_HINT = 'direct, block, block 451, reject or upstream <name>'
const blocked = (status: number): Action => ({ type: 'block', status, body: 'Blocked by Junction' })

/** Clash's rule types that have a Junction matcher; DOMAIN-KEYWORD becomes a wildcard around the word. */
const CLASH_KINDS: Record<string, (value: string) => Matcher> = {
  DOMAIN: (value) => ({ type: 'host', value }),
  'DOMAIN-SUFFIX': (value) => ({ type: 'domain', value }),
  'DOMAIN-KEYWORD': (value) => ({ type: 'wildcard', value: `*${value}*` }),
  'DOMAIN-REGEX': (value) => ({ type: 'regex', value }),
  'IP-CIDR': (value) => ({ type: 'ip', value }),
  'IP-CIDR6': (value) => ({ type: 'ip', value }),
  'DST-PORT': (value) => ({ type: 'port', value })
}

type Parsed<T> = { value: T } | { error: string }

/** Finds an upstream or group by name (case-insensitive), else by id. */
function findTarget(profile: Profile, name: string): Parsed<Action> {
  const targets = [...profile.upstreams, ...(profile.groups ?? [])]
  const wanted = name.toLowerCase()
  const found = targets.find((t) => t.name.toLowerCase() === wanted) ?? targets.find((t) => t.id === name)
  if (found) return { value: { type: 'upstream', upstreamId: found.id } }
  const known = targets.map((t) => t.name).join(', ')
  return {
    error: `this profile has no upstream or group named "${name}" ${
      known ? `(it has ${known})` : '(it has none yet; add one on the Profiles page)'
    }`
  }
}

function parseAction(profile: Profile, words: string[]): Parsed<Action> {
  const [word = '', ...rest] = words
  const verb = word.toLowerCase()
  if (verb === 'upstream' || verb === 'via' || verb === '→' || verb === '->') {
    if (rest.length === 0) return { error: `"${word}" needs the name of an upstream or group` }
    return findTarget(profile, rest.join(' '))
  }
  if (verb === 'block') {
    if (rest.length === 0) return { value: blocked(403) }
    const status = Number(rest[0])
    if (rest.length > 1 || !Number.isInteger(status) || status < 400 || status > 589)
      return { error: `after "block" comes nothing or a status from 400 to 589, not "${rest.join(' ')}"` }
    return { value: blocked(status) }
  }
  if (verb === 'direct' || verb === 'reject') {
    if (rest.length > 0) return { error: `nothing may follow "${verb}" (found "${rest.join(' ')}")` }
    return { value: { type: verb } }
  }
  return { error: `"${word}" is not an action; use ${ACTIONS_HINT}` }
}

function checkedMatcher(type: string, value: string): Parsed<Matcher> {
  const parsed = MatcherSchema.safeParse({ type, value })
  if (!parsed.success) return { error: `${type} "${value}": must be "http" or "connect"` }
  const problem = checkMatcherValue(parsed.data)
  return problem ? { error: `${type} "${value}": ${problem}` } : { value: parsed.data }
}

function parseWords(profile: Profile, words: string[]): Parsed<{ matchers: Matcher[]; action: Action }> {
  const matchers: Matcher[] = []
  let i = 0
  for (;;) {
    const kind = words[i]?.toLowerCase() ?? ''
    if (!(KINDS as readonly string[]).includes(kind))
      return {
        error:
          i === 0
            ? `"${words[0]}" is not a kind of match; start the line with ${KIND_LIST}`
            : `"${words[i]}" is not a kind of match after "and"`
      }
    const value = words[i + 1]
    if (value === undefined)
      return { error: `"${kind}" needs a value, e.g. "${kind} ${example(kind)} block"` }
    const matcher = checkedMatcher(kind, value)
    if ('error' in matcher) return matcher
    matchers.push(matcher.value)
    i += 2
    if (words[i]?.toLowerCase() !== 'and') break
    i++
  }
  if (i >= words.length)
    return { error: `it says what to match but not what to do; end it with ${ACTIONS_HINT}` }
  const action = parseAction(profile, words.slice(i))
  return 'error' in action ? action : { value: { matchers, action: action.value } }
}

function example(kind: string): string {
  const examples: Record<string, string> = {
    ip: '10.0.0.0/8',
    port: '443',
    protocol: 'connect',
    path: '/api/',
    method: 'POST',
    header: 'X-Debug',
    regex: '^ads\\.',
    wildcard: '*.cdn.*.com'
  }
  return examples[kind] ?? 'example.com'
}

function parseClash(profile: Profile, text: string): Parsed<{ matchers: Matcher[]; action: Action }> {
  const [type = '', value = '', target = ''] = text.split(',').map((part) => part.trim())
  const toMatcher = CLASH_KINDS[type.toUpperCase()]
  if (!toMatcher)
    return {
      error: `Clash rule type "${type}" has no match here; use ${Object.keys(CLASH_KINDS).join(', ')}`
    }
  if (!value || !target) return { error: 'a Clash rule needs a type, a value and a target' }
  const matcher = toMatcher(value)
  const problem = checkMatcherValue(matcher)
  if (problem) return { error: `${matcher.type} "${matcher.value}": ${problem}` }
  const upper = target.toUpperCase()
  const action: Parsed<Action> =
    upper === 'DIRECT'
      ? { value: { type: 'direct' } }
      : upper === 'REJECT' || upper === 'REJECT-DROP'
        ? { value: { type: 'reject' } }
        : findTarget(profile, target)
  return 'error' in action ? action : { value: { matchers: [matcher], action: action.value } }
}

/**
 * Reads pasted text against `profile` (whose upstreams and groups actions may name). Each rule gets an
 * id from `newId`; a line's position in the list decides nothing here, the caller places the rules.
 */
export function parseRuleLines(text: string, profile: Profile, newId: () => string): RuleLine[] {
  const out: RuleLine[] = []
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    // Values hold no spaces, so a `#` after a space always starts a comment.
    const trimmed = raw.replace(/\s#.*$/, '').trim()
    if (!trimmed || trimmed.startsWith('#') || trimmed.startsWith('//')) continue
    const isClash = /^[A-Za-z0-9-]+,/.test(trimmed)
    const parsed = isClash ? parseClash(profile, trimmed) : parseWords(profile, trimmed.split(/\s+/))
    const line = index + 1
    out.push(
      'error' in parsed
        ? { line, text: trimmed, error: `Line ${line}: ${parsed.error}.` }
        : { line, text: trimmed, rule: { id: newId(), enabled: true, ...parsed.value } }
    )
  }
  return out
}
