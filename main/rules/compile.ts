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
 * previous one compiled for every rule object the edit kept (rule-edits.ts keeps them). When the edit
 * changed a few rules where they stand (an edit, a switch on or off) the previous index is patched at
 * those positions; otherwise (adds, deletes, moves) every rule is filed into new buckets. At 100,000
 * rules that is ~2 ms and ~40 ms of CPU against ~250 ms compiling from nothing (bench/rule-save.ts).
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

/**
 * Adds `index` to the bucket under `key`. A new bucket is made holding it, not empty and then grown:
 * V8 gives a grown array room for 17 entries, and most buckets hold one (~10 MiB at 100,000 rules).
 */
function fileUnder<K>(map: Buckets<K>, key: K, index: number): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [index])
  else insert(list, index)
}

/** Where `index` goes in the ascending `list`: the first entry not below it. */
function lowerBound(list: readonly number[], index: number): number {
  let low = 0
  let high = list.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (list[middle]! < index) low = middle + 1
    else high = middle
  }
  return low
}

/** Adds `index` to the ascending `list`: at the end when filing in order, in its place when patching. */
function insert(list: number[], index: number): void {
  if (list.length === 0 || list[list.length - 1]! < index) list.push(index)
  else list.splice(lowerBound(list, index), 0, index)
}

function deleteSorted(list: number[], index: number): number {
  const at = lowerBound(list, index)
  if (list[at] === index) list.splice(at, 1)
  return list.length
}

function takeOut<K>(map: Buckets<K>, key: K, index: number): void {
  const list = map.get(key)
  if (list !== undefined && deleteSorted(list, index) === 0) map.delete(key)
}

function takeOutByPrefix<K>(byPrefix: Map<number, Buckets<K>>, bits: number, key: K, index: number): void {
  const buckets = byPrefix.get(bits)
  if (buckets === undefined) return
  takeOut(buckets, key, index)
  if (buckets.size === 0) byPrefix.delete(bits)
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

/** Up to this many rules changed in place (edited, switched on or off) are patched into the index. */
const PATCH_LIMIT = 64

/**
 * The buckets of one rule list, by position. Built by filing every enabled rule in list order, or
 * patched: an edit that changes a few rules where they stand leaves every other position as it was,
 * so those few are taken out of their buckets and the new ones put in, in order.
 */
class RuleIndex {
  readonly hosts: Buckets<number> = new Map()
  readonly domains: Buckets<number> = new Map()
  readonly wildcards: Buckets<number> = new Map()
  readonly v4: Map<number, Buckets<number>> = new Map()
  readonly v6: Map<number, Buckets<string>> = new Map()
  readonly ports: Buckets<number> = new Map()
  readonly httpOnly: number[] = []
  readonly connectOnly: number[] = []
  readonly scan: number[] = []
  readonly regexes: number[] = []
  /** Enabled rules by position (disabled ones leave a hole). */
  readonly bySlot: (CompiledRule | undefined)[]
  /** The list indexed, to tell which positions a later list changed. */
  rules: readonly Rule[]
  /** Enabled rules with request matchers. */
  requestRules = 0
  /** One alternation of all regex rules' patterns: when it fails, no regex rule can match. */
  regexFilter: RE2JS | null = null
  /** The alternation's source, to keep `regexFilter` when the patterns have not changed. */
  regexSource = ''

  constructor(rules: readonly Rule[], compile: (rule: Rule) => CompiledRule, previous?: RuleIndex) {
    this.rules = rules
    this.bySlot = new Array<CompiledRule | undefined>(rules.length)
    for (let index = 0; index < rules.length; index++)
      if (rules[index]!.enabled) this.add(compile(rules[index]!), index)
    this.joinRegexes(previous)
  }

  /**
   * Patches this index to `rules`, which differs from the list indexed at `changed` positions only.
   * Whoever held the index before now sees the new list: the engine swaps routings and drops the old.
   */
  patch(rules: readonly Rule[], changed: readonly number[], compile: (rule: Rule) => CompiledRule): void {
    let regexChanged = false
    for (const index of changed) {
      const before = this.bySlot[index]
      if (before !== undefined) {
        this.remove(before, index)
        regexChanged ||= before.filing.into === 'regexes'
      }
      const rule = rules[index]!
      if (!rule.enabled) continue
      const after = compile(rule)
      this.add(after, index)
      regexChanged ||= after.filing.into === 'regexes'
    }
    this.rules = rules
    if (regexChanged) this.joinRegexes(this)
  }

  private add(compiled: CompiledRule, index: number): void {
    this.bySlot[index] = compiled
    if (compiled.usesRequest) this.requestRules++
    const { filing } = compiled
    switch (filing.into) {
      case 'hosts':
      case 'domains':
      case 'wildcards':
        return fileUnder(this[filing.into], filing.key, index)
      case 'v4':
        return fileUnder(bucketsFor(this.v4, filing.bits), filing.key, index)
      case 'v6':
        return fileUnder(bucketsFor(this.v6, filing.bits), filing.key, index)
      case 'ports':
        for (const port of filing.keys) fileUnder(this.ports, port, index)
        return
      case 'httpOnly':
      case 'connectOnly':
      case 'scan':
      case 'regexes':
        return insert(this[filing.into], index)
    }
  }

  /** Takes rule `index` out of its buckets; a bucket left empty goes, as a fresh index would not have it. */
  private remove(compiled: CompiledRule, index: number): void {
    this.bySlot[index] = undefined
    if (compiled.usesRequest) this.requestRules--
    const { filing } = compiled
    switch (filing.into) {
      case 'hosts':
      case 'domains':
      case 'wildcards':
        return takeOut(this[filing.into], filing.key, index)
      case 'v4':
        return takeOutByPrefix(this.v4, filing.bits, filing.key, index)
      case 'v6':
        return takeOutByPrefix(this.v6, filing.bits, filing.key, index)
      case 'ports':
        for (const port of filing.keys) takeOut(this.ports, port, index)
        return
      case 'httpOnly':
      case 'connectOnly':
      case 'scan':
      case 'regexes':
        return void deleteSorted(this[filing.into], index)
    }
  }

  /** Joins the regex rules' patterns, keeping `previous`'s filter when they are the same. */
  private joinRegexes(previous: RuleIndex | undefined): void {
    const source = this.regexes
      .map((index) => `(?:${(this.bySlot[index]!.filing as { pattern: string }).pattern})`)
      .join('|')
    this.regexFilter =
      previous && previous.regexSource === source ? previous.regexFilter : joinRegexes(source)
    this.regexSource = source
  }
}

/** The positions of `rules` that hold another rule object than `indexed`, or null past PATCH_LIMIT. */
function changedPositions(indexed: readonly Rule[], rules: readonly Rule[]): number[] | null {
  if (indexed.length !== rules.length) return null
  const changed: number[] = []
  for (let index = 0; index < rules.length; index++)
    if (indexed[index] !== rules[index] && changed.push(index) > PATCH_LIMIT) return null
  return changed
}

export class CompiledRules {
  readonly defaultDecision: Decision
  private readonly index: RuleIndex

  /**
   * `previous`: the compilation of an earlier version of the list. When only a few rules changed where
   * they stand, its index is patched and taken over (`previous` then answers as this compilation
   * does); otherwise the rules are filed into a new index, reusing what `previous` compiled for every
   * rule object the edit kept (rule-edits.ts keeps them), so only the rules it brought in are compiled.
   */
  constructor(rules: readonly Rule[], defaultAction: Action, previous?: CompiledRules) {
    this.defaultDecision = actionToDecision(defaultAction)
    const changed = previous ? changedPositions(previous.index.rules, rules) : null
    if (previous && changed) {
      previous.index.patch(rules, changed, compileRule)
      this.index = previous.index
      return
    }
    // Looked up by rule object only while filing: kept for good, the map cost 3 MiB per 100,000 rules.
    const known = new Map<Rule, CompiledRule>()
    for (const compiled of previous?.index.bySlot ?? []) if (compiled) known.set(compiled.rule, compiled)
    this.index = new RuleIndex(rules, (rule) => known.get(rule) ?? compileRule(rule), previous?.index)
  }

  /** Whether any enabled rule looks at the request itself (path, method, header matchers). */
  get usesRequest(): boolean {
    return this.index.requestRules > 0
  }

  /** Lowest matching position in `bucket` below `best`, or `best`. Buckets are ascending. */
  private firstIn(bucket: readonly number[] | undefined, target: NormalizedTarget, best: number): number {
    if (bucket === undefined) return best
    const { bySlot } = this.index
    for (const index of bucket) {
      if (index >= best) return best
      if (bySlot[index]!.test(target)) return index
    }
    return best
  }

  match(raw: RouteTarget): Match {
    const target = normalizeTarget(raw)
    const index = this.index
    let best = Infinity
    const host = target.hostname
    // Right to left: the hash of every suffix that starts a label (com, example.com, a.example.com).
    let h = 0
    const byName = index.hosts.size > 0 || index.domains.size > 0
    for (let i = byName ? host.length - 1 : -1; i >= 0; i--) {
      h = (Math.imul(h, 31) + host.charCodeAt(i)) | 0
      if (i === 0) best = this.firstIn(index.hosts.get(h), target, best)
      if (i === 0 || host.charCodeAt(i - 1) === DOT) best = this.firstIn(index.domains.get(h), target, best)
    }
    if (index.wildcards.size > 0) {
      // Left to right: the hash of every label.
      let label = 0
      for (let i = 0; i <= host.length; i++) {
        const code = i < host.length ? host.charCodeAt(i) : DOT
        if (code !== DOT) label = (Math.imul(label, 31) + code) | 0
        else {
          best = this.firstIn(index.wildcards.get(label), target, best)
          label = 0
        }
      }
    }
    if (target.ip !== null) best = this.matchIp(target, best)
    best = this.firstIn(index.ports.get(target.port), target, best)
    best = this.firstIn(target.isHttp ? index.httpOnly : index.connectOnly, target, best)
    best = this.firstIn(index.scan, target, best)
    if (index.regexes.length > 0 && (index.regexFilter === null || index.regexFilter.test(host)))
      best = this.firstIn(index.regexes, target, best)
    if (best === Infinity) return { decision: this.defaultDecision, rule: null, index: -1 }
    const rule = index.bySlot[best]!
    return { decision: rule.decision, rule, index: best }
  }

  private matchIp(target: NormalizedTarget, best: number): number {
    const ip = target.ip!
    if (ip.kind() === 'ipv4') {
      const value = ipv4Number(ip as ipaddr.IPv4)
      for (const [bits, byNetwork] of this.index.v4)
        best = this.firstIn(byNetwork.get(maskV4(value, bits)), target, best)
    } else {
      for (const [bits, byNetwork] of this.index.v6)
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
