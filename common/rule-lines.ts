/**
 * Rules written one per line, as people paste them into the Rules view:
 *
 *   domain example.com block            host a.b direct           regex ^ads\. block 451
 *   ip 10.0.0.0/8 upstream Squid        port 8000-8999 reject     domain x.com and port 443 → Pool
 *
 * A line is one or more `<kind> <value>` matchers joined by `and`, then an action: `direct`, `reject`,
 * `block` (403) or `block <status>`, or `upstream <name>` (also `via <name>` or `→ <name>`) naming an
 * upstream or a group of the profile by name or id. A value with spaces (a header pattern, a path, a
 * regex) goes in double quotes, where `\"` is a quote and `\\` a backslash; any other backslash is
 * kept as written, so `"^ads\. x"` is the regex it looks like. Clash lines (`DOMAIN-SUFFIX,example.com,Proxy`)
 * are read too, since that is what users of Clash have at hand. Blank lines, lines starting with `#`
 * or `//`, and anything after a ` #` outside quotes are skipped.
 *
 * `ruleLine` writes a rule back as such a line, quoting where needed, so a line read and written again
 * is the line (up to spacing and spelling) and a rule written and read again is the rule.
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
/** What a pasted `block` answers with. */
const BLOCK_BODY = 'Blocked by Junction'
const blocked = (status: number): Action => ({ type: 'block', status, body: BLOCK_BODY })

/**
 * Clash's rule types that have a Junction matcher, for pasted Clash lines and for Clash files
 * (main/transfer/import-clash.ts). DOMAIN-KEYWORD becomes a wildcard around the word (a keyword
 * anywhere in the host name); DST-PORT's `80/443` is a list.
 */
export const CLASH_MATCHERS: Readonly<Record<string, (value: string) => Matcher>> = {
  DOMAIN: (value) => ({ type: 'host', value }),
  'DOMAIN-SUFFIX': (value) => ({ type: 'domain', value }),
  'DOMAIN-KEYWORD': (value) => ({ type: 'wildcard', value: `*${value}*` }),
  'DOMAIN-REGEX': (value) => ({ type: 'regex', value }),
  'IP-CIDR': (value) => ({ type: 'ip', value }),
  'IP-CIDR6': (value) => ({ type: 'ip', value }),
  'DST-PORT': (value) => ({ type: 'port', value: value.replace(/\//g, ',') })
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

const SPACE = /\s/

/**
 * The words of a line: runs of non-space characters, or values in double quotes (which may hold
 * spaces). `end` is where the line's rule ends: at a word starting with `#` (a comment), else the end.
 */
function splitWords(line: string): Parsed<string[]> & { end: number } {
  const words: string[] = []
  let i = 0
  while (i < line.length) {
    if (SPACE.test(line[i]!)) i++
    else if (line[i] === '#') return { value: words, end: i }
    else if (line[i] !== '"') {
      const start = i
      while (i < line.length && !SPACE.test(line[i]!)) i++
      words.push(line.slice(start, i))
    } else {
      const quoted = readQuoted(line, i)
      if ('error' in quoted) return { ...quoted, end: line.length }
      words.push(quoted.value)
      i = quoted.end
    }
  }
  return { value: words, end: line.length }
}

/** The value quoted at `open`, unescaped, and the position after its closing quote. */
function readQuoted(line: string, open: number): Parsed<string> & { end: number } {
  let value = ''
  let i = open + 1
  for (;;) {
    if (i >= line.length)
      return {
        error: `the quote opened at column ${open + 1} is never closed (write \\" for a quote inside a value)`,
        end: i
      }
    const char = line[i]!
    if (char === '"') break
    const next = line[i + 1]
    if (char === '\\' && (next === '"' || next === '\\')) {
      value += next
      i += 2
    } else {
      value += char
      i++
    }
  }
  const end = i + 1
  if (end < line.length && !SPACE.test(line[end]!))
    return {
      error: `the quoted value closed at column ${end} runs into "${line.slice(end).split(SPACE)[0]}"; put a space after the closing quote`,
      end
    }
  return { value, end }
}

/**
 * A value as a line holds it: as written when it reads back as one word, else in double quotes with
 * `"` and `\` escaped. Line breaks are kept as they are (`ruleLine` refuses values that have them).
 */
export function quoteValue(value: string): string {
  if (value !== '' && !SPACE.test(value) && value[0] !== '"' && value[0] !== '#') return value
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

/** `header "User-Agent: curl/8 x"`: a matcher as a line (and the Rules view) writes it. */
export function matcherText(matcher: Matcher): string {
  return `${matcher.type} ${quoteValue(matcher.value)}`
}

/** The action as a line writes it, naming an upstream or group so that it reads back as the same one. */
function actionWords(action: Action, profile: Profile): string | null {
  switch (action.type) {
    case 'direct':
    case 'reject':
      return action.type
    case 'block':
      return action.body === BLOCK_BODY ? `block ${action.status}` : null
    case 'upstream': {
      const target = [...profile.upstreams, ...(profile.groups ?? [])].find((t) => t.id === action.upstreamId)
      // By name when the name finds it again (names may repeat, ignoring case), else by id.
      for (const name of [target?.name, action.upstreamId]) {
        if (name === undefined || /[\r\n]/.test(name)) continue
        const found = findTarget(profile, name)
        if (
          'value' in found &&
          found.value.type === 'upstream' &&
          found.value.upstreamId === action.upstreamId
        )
          return `upstream ${quoteValue(name)}`
      }
      return null
    }
  }
}

/**
 * The line that reads back (with `parseRuleLines`, against `profile`) as `rule` with a new id, or null
 * when a line cannot say it: a name, header or body edits, a mock response, interception, a switched-off
 * rule, a block with a body of its own, a line break in a value, or an upstream the profile lacks.
 */
export function ruleLine(rule: Rule, profile: Profile): string | null {
  if (
    !rule.enabled ||
    rule.name !== undefined ||
    rule.rewrite ||
    rule.intercept !== undefined ||
    rule.respondWith
  )
    return null
  if (rule.matchers.some((m) => /[\r\n]/.test(m.value))) return null
  const action = actionWords(rule.action, profile)
  return action === null ? null : `${rule.matchers.map(matcherText).join(' and ')} ${action}`
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
  // Only an empty value (now that quotes allow one) or a protocol other than the two fail the schema.
  if (!parsed.success)
    return {
      error: `${type} "${value}": ${value === '' ? 'must not be empty' : 'must be "http" or "connect"'}`
    }
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
  const toMatcher = CLASH_MATCHERS[type.toUpperCase()]
  if (!toMatcher)
    return {
      error: `Clash rule type "${type}" has no match here; use ${Object.keys(CLASH_MATCHERS).join(', ')}`
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
    const whole = raw.trim()
    if (!whole || whole.startsWith('#') || whole.startsWith('//')) continue
    let trimmed: string
    let parsed: Parsed<{ matchers: Matcher[]; action: Action }>
    if (/^[A-Za-z0-9-]+,/.test(whole)) {
      // Clash values hold no spaces, so a `#` after a space always starts a comment.
      trimmed = whole.replace(/\s#.*$/, '')
      parsed = parseClash(profile, trimmed)
    } else {
      const split = splitWords(whole)
      trimmed = whole.slice(0, split.end).trimEnd()
      parsed = 'error' in split ? split : parseWords(profile, split.value)
    }
    const line = index + 1
    out.push(
      'error' in parsed
        ? { line, text: trimmed, error: `Line ${line}: ${parsed.error}.` }
        : { line, text: trimmed, rule: { id: newId(), enabled: true, ...parsed.value } }
    )
  }
  return out
}
