/**
 * Compiles a profile's ordered rule list into indexes so that a lookup touches only rules that can
 * possibly match, instead of scanning every rule per request (profiles may hold 100,000 rules).
 *
 * Each enabled rule is filed under one "key" matcher (the most selective one it has): exact hosts and
 * domains in hash maps walked by host-name suffix, CIDR blocks in one hash map per prefix length,
 * single ports in a map, protocol in two lists, wildcards under a label they spell out in full.
 * Regex rules sit behind one joined pattern that rules them all out at once for most hosts; the few
 * rules with nothing to index (wildcards with no full label, port ranges) form a short scan list. Every bucket holds rule positions in ascending
 * order, so the first enabled match in list order wins: a lookup keeps the lowest position found and
 * stops reading a bucket once it passes that position.
 *
 * Compiling a rule (its matchers' regexes, CIDRs and globs, and which bucket it goes in) is most of
 * the cost, and does not depend on its position; so a compilation made after an edit reuses what the
 * previous one compiled for every rule object the edit kept, and only files the rules into fresh
 * buckets. A per-rule save at 100,000 rules then compiles one rule (bench/rule-save.ts).
 */
import ipaddr from 'ipaddr.js'
import type { RE2JS } from 're2js'
import { compileHostRegex } from '../../common/matcher-checks.ts'
import type { Action, Decision, Matcher, Profile, Rule, RouteTarget } from '../../common/model.ts'
import {
  MATCHERS,
  normalizeHostValue,
  normalizeTarget,
  parseCidr,
  parsePorts,
  type NormalizedTarget,
  type Predicate
} from './matchers.ts'

/**
 * One enabled rule, compiled. It does not depend on where the rule stands, so it is kept for the same
 * rule object from one compilation of a profile to the next.
 */
export interface CompiledRule {
  rule: Rule
  decision: Decision
  test: Predicate
  /** The bucket it goes in. */
  filing: Filing
  usesRequest: boolean
}

export interface Match {
  decision: Decision
  /** null when the profile's default action applied. */
  rule: CompiledRule | null
  /** Position of `rule` in the profile's rule list (disabled rules count); -1 with no rule. */
  index: number
}

type Buckets<K> = Map<K, number[]>

export function actionToDecision(action: Action): Decision {
  switch (action.type) {
    case 'direct':
      return { action: 'direct' }
    case 'upstream':
      return { action: 'upstream', upstreamId: action.upstreamId }
    case 'block':
      return { action: 'block', status: action.status, body: action.body }
    case 'reject':
      return { action: 'reject' }
  }
}

function bucketsFor<K>(byPrefix: Map<number, Buckets<K>>, bits: number): Buckets<K> {
  let buckets = byPrefix.get(bits)
  if (buckets === undefined) {
    buckets = new Map()
    byPrefix.set(bits, buckets)
  }
  return buckets
}

/** One alternation of the regex rules' patterns ('' when there are none), or null when none can be made. */
function joinRegexes(source: string): RE2JS | null {
  if (source === '') return null
  try {
    return compileHostRegex(source)
  } catch {
    // Two patterns naming the same group cannot be joined; each rule is then tested on its own.
    return null
  }
}

function push<K>(map: Buckets<K>, key: K, index: number): void {
  const list = map.get(key)
  if (list) list.push(index)
  else map.set(key, [index])
}

/**
 * The longest label a wildcard pattern spells out in full, e.g. `*.cdn5.*.com` → `cdn5`; '' if none.
 * Every host the pattern matches has that label (a dot-delimited literal in the pattern can only
 * match a whole label), so the pattern need only be tried on hosts that have it.
 */
function wildcardLabelKey(pattern: string): string {
  return normalizeHostValue(pattern)
    .split('.')
    .filter((label) => label.length > 0 && !/[*?]/.test(label))
    .reduce((longest, label) => (label.length > longest.length ? label : longest), '')
}

/**
 * Host names are looked up by 32-bit hashes instead of strings: a lookup then hashes each suffix and
 * label of the host in one pass over its characters, with no substring allocated and rehashed per
 * step. Two names may share a hash; that only adds a candidate, which the rule's own test rejects.
 */
export function suffixHash(text: string): number {
  let h = 0
  for (let i = text.length - 1; i >= 0; i--) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0
  return h
}

export function labelHash(text: string): number {
  let h = 0
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0
  return h
}

const DOT = 46

function ipv6Key(addr: ipaddr.IPv6, bits: number): string {
  const bytes = addr.toByteArray()
  let key = ''
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8))
    key += String.fromCharCode((bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff))
  }
  return key
}

function ipv4Number(addr: ipaddr.IPv4): number {
  const [a = 0, b = 0, c = 0, d = 0] = addr.octets
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

function maskV4(value: number, bits: number): number {
  return bits === 0 ? 0 : (value & (0xffffffff << (32 - bits))) >>> 0
}

/** Which matcher a rule is filed under; lower is more selective. */
const KEY_ORDER: Record<Matcher['type'], number> = {
  host: 0,
  domain: 1,
  ip: 2,
  wildcard: 3,
  port: 4,
  protocol: 5,
  regex: 6,
  // Request matchers index nothing: a rule with only these is scanned (and never matches a CONNECT).
  path: 7,
  method: 8,
  header: 9
}

const REQUEST_MATCHERS: ReadonlySet<Matcher['type']> = new Set(['path', 'method', 'header'])

/** Where a rule is filed, worked out once per rule: the bucket and its key. */
type Filing =
  | { into: 'hosts' | 'domains' | 'wildcards'; key: number }
  | { into: 'v4'; bits: number; key: number }
  | { into: 'v6'; bits: number; key: string }
  | { into: 'ports'; keys: number[] }
  | { into: 'httpOnly' | 'connectOnly' | 'scan' }
  | { into: 'regexes'; pattern: string }

function compileRule(rule: Rule): CompiledRule {
  const predicates = rule.matchers.map((m) => MATCHERS[m.type].compile(m.value))
  return {
    rule,
    decision: actionToDecision(rule.action),
    test: predicates.length === 1 ? predicates[0]! : (t) => predicates.every((p) => p(t)),
    filing: filingOf(rule),
    usesRequest: rule.matchers.some((m) => REQUEST_MATCHERS.has(m.type))
  }
}

function filingOf(rule: Rule): Filing {
  const key = [...rule.matchers].sort((a, b) => KEY_ORDER[a.type] - KEY_ORDER[b.type])[0]!
  switch (key.type) {
    case 'host':
      return { into: 'hosts', key: suffixHash(normalizeHostValue(key.value)) }
    case 'domain':
      return { into: 'domains', key: suffixHash(normalizeHostValue(key.value).replace(/^\*?\./, '')) }
    case 'ip': {
      const [addr, bits] = parseCidr(key.value)
      return addr.kind() === 'ipv4'
        ? { into: 'v4', bits, key: maskV4(ipv4Number(addr as ipaddr.IPv4), bits) }
        : { into: 'v6', bits, key: ipv6Key(addr as ipaddr.IPv6, bits) }
    }
    case 'wildcard': {
      const label = wildcardLabelKey(key.value)
      return label ? { into: 'wildcards', key: labelHash(label) } : { into: 'scan' }
    }
    case 'port': {
      const { singles, ranges } = parsePorts(key.value)
      // A rule listed under several ports must still appear once per bucket, in order.
      return ranges.length > 0 ? { into: 'scan' } : { into: 'ports', keys: [...new Set(singles)] }
    }
    case 'protocol':
      return { into: key.value === 'http' ? 'httpOnly' : 'connectOnly' }
    case 'regex':
      return { into: 'regexes', pattern: key.value }
    case 'path':
    case 'method':
    case 'header':
      return { into: 'scan' }
  }
}

export class CompiledRules {
  readonly defaultDecision: Decision
  private readonly hosts: Buckets<number> = new Map()
  private readonly domains: Buckets<number> = new Map()
  private readonly wildcards: Buckets<number> = new Map()
  private readonly v4: Map<number, Buckets<number>> = new Map()
  private readonly v6: Map<number, Buckets<string>> = new Map()
  private readonly ports: Buckets<number> = new Map()
  private readonly httpOnly: number[] = []
  private readonly connectOnly: number[] = []
  private readonly scan: number[] = []
  private readonly regexes: number[] = []
  /** One alternation of all regex rules' patterns: when it fails, no regex rule can match. */
  private readonly regexFilter: RE2JS | null = null
  /** The patterns `regexFilter` was joined from, to reuse it when they have not changed. */
  private readonly regexSource: string = ''
  /** Enabled rules by position. */
  private readonly bySlot: CompiledRule[] = []
  /**
   * Compiled rules by rule object, shared with the compilations before and after this one: an edit
   * keeps every other rule object as it was (rule-edits.ts), so compiling after it runs the matchers'
   * compile (regexes, CIDRs, globs) for the rules it brought in only, and re-files the rest.
   */
  private readonly compiled: WeakMap<Rule, CompiledRule>

  /** Whether any enabled rule looks at the request itself (path, method, header matchers). */
  readonly usesRequest: boolean = false

  /** `previous`: the compilation of an earlier version of the same list, whose rule parts are reused. */
  constructor(rules: readonly Rule[], defaultAction: Action, previous?: CompiledRules) {
    this.defaultDecision = actionToDecision(defaultAction)
    this.compiled = previous?.compiled ?? new WeakMap()
    const patterns: string[] = []
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index]!
      if (!rule.enabled) continue
      let compiled = this.compiled.get(rule)
      if (compiled === undefined) {
        compiled = compileRule(rule)
        this.compiled.set(rule, compiled)
      }
      this.bySlot[index] = compiled
      if (compiled.usesRequest) this.usesRequest = true
      const pattern = this.file(compiled.filing, index)
      if (pattern !== null) patterns.push(pattern)
    }
    this.regexSource = patterns.map((p) => `(?:${p})`).join('|')
    this.regexFilter =
      previous && previous.regexSource === this.regexSource
        ? previous.regexFilter
        : joinRegexes(this.regexSource)
  }

  /** Puts rule `index` in its bucket; returns its pattern when it is a regex rule. */
  private file(filing: Filing, index: number): string | null {
    switch (filing.into) {
      case 'hosts':
      case 'domains':
      case 'wildcards':
        push(this[filing.into], filing.key, index)
        return null
      case 'v4':
        push(bucketsFor(this.v4, filing.bits), filing.key, index)
        return null
      case 'v6':
        push(bucketsFor(this.v6, filing.bits), filing.key, index)
        return null
      case 'ports':
        for (const port of filing.keys) push(this.ports, port, index)
        return null
      case 'httpOnly':
      case 'connectOnly':
      case 'scan':
        this[filing.into].push(index)
        return null
      case 'regexes':
        this.regexes.push(index)
        return filing.pattern
    }
  }

  /** Lowest matching position in `bucket` below `best`, or `best`. Buckets are ascending. */
  private firstIn(bucket: readonly number[] | undefined, target: NormalizedTarget, best: number): number {
    if (bucket === undefined) return best
    for (const index of bucket) {
      if (index >= best) return best
      if (this.bySlot[index]!.test(target)) return index
    }
    return best
  }

  match(raw: RouteTarget): Match {
    const target = normalizeTarget(raw)
    let best = Infinity
    const host = target.hostname
    // Right to left: the hash of every suffix that starts a label (com, example.com, a.example.com).
    let h = 0
    const byName = this.hosts.size > 0 || this.domains.size > 0
    for (let i = byName ? host.length - 1 : -1; i >= 0; i--) {
      h = (Math.imul(h, 31) + host.charCodeAt(i)) | 0
      if (i === 0) best = this.firstIn(this.hosts.get(h), target, best)
      if (i === 0 || host.charCodeAt(i - 1) === DOT) best = this.firstIn(this.domains.get(h), target, best)
    }
    if (this.wildcards.size > 0) {
      // Left to right: the hash of every label.
      let label = 0
      for (let i = 0; i <= host.length; i++) {
        const code = i < host.length ? host.charCodeAt(i) : DOT
        if (code !== DOT) label = (Math.imul(label, 31) + code) | 0
        else {
          best = this.firstIn(this.wildcards.get(label), target, best)
          label = 0
        }
      }
    }
    if (target.ip !== null) best = this.matchIp(target, best)
    best = this.firstIn(this.ports.get(target.port), target, best)
    best = this.firstIn(target.isHttp ? this.httpOnly : this.connectOnly, target, best)
    best = this.firstIn(this.scan, target, best)
    if (this.regexes.length > 0 && (this.regexFilter === null || this.regexFilter.test(host)))
      best = this.firstIn(this.regexes, target, best)
    if (best === Infinity) return { decision: this.defaultDecision, rule: null, index: -1 }
    const rule = this.bySlot[best]!
    return { decision: rule.decision, rule, index: best }
  }

  private matchIp(target: NormalizedTarget, best: number): number {
    const ip = target.ip!
    if (ip.kind() === 'ipv4') {
      const value = ipv4Number(ip as ipaddr.IPv4)
      for (const [bits, byNetwork] of this.v4)
        best = this.firstIn(byNetwork.get(maskV4(value, bits)), target, best)
    } else {
      for (const [bits, byNetwork] of this.v6)
        best = this.firstIn(byNetwork.get(ipv6Key(ip as ipaddr.IPv6, bits)), target, best)
    }
    return best
  }
}

/** `previous`: the compilation of an earlier version of the profile, whose rule parts are reused. */
export function compileProfile(
  profile: Pick<Profile, 'rules' | 'defaultAction'>,
  previous?: CompiledRules
): CompiledRules {
  return new CompiledRules(profile.rules, profile.defaultAction, previous)
}
