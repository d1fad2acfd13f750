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

export interface CompiledRule {
  rule: Rule
  /** Position in the profile's rule list (disabled rules keep their position). */
  index: number
  decision: Decision
  test: Predicate
}

export interface Match {
  decision: Decision
  /** null when the profile's default action applied. */
  rule: CompiledRule | null
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

export class CompiledRules {
  readonly rules: CompiledRule[] = []
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
  private regexFilter: RE2JS | null = null
  private readonly bySlot: CompiledRule[] = []

  constructor(rules: readonly Rule[], defaultAction: Action) {
    this.defaultDecision = actionToDecision(defaultAction)
    rules.forEach((rule, index) => {
      if (!rule.enabled) return
      const predicates = rule.matchers.map((m) => MATCHERS[m.type].compile(m.value))
      const test: Predicate = predicates.length === 1 ? predicates[0]! : (t) => predicates.every((p) => p(t))
      const compiled: CompiledRule = { rule, index, decision: actionToDecision(rule.action), test }
      this.rules.push(compiled)
      this.bySlot[index] = compiled
      this.file(rule, index)
    })
    this.regexFilter = this.joinRegexes(rules)
  }

  private joinRegexes(rules: readonly Rule[]): RE2JS | null {
    const patterns = this.regexes.map(
      (index) => rules[index]!.matchers.find((m) => m.type === 'regex')!.value
    )
    if (patterns.length === 0) return null
    try {
      return compileHostRegex(patterns.map((p) => `(?:${p})`).join('|'))
    } catch {
      // Two patterns naming the same group cannot be joined; each rule is then tested on its own.
      return null
    }
  }

  /** Whether any enabled rule looks at the request itself (path, method, header matchers). */
  usesRequest = false

  private file(rule: Rule, index: number): void {
    if (rule.matchers.some((m) => REQUEST_MATCHERS.has(m.type))) this.usesRequest = true
    const key = [...rule.matchers].sort((a, b) => KEY_ORDER[a.type] - KEY_ORDER[b.type])[0]!
    switch (key.type) {
      case 'host':
        return push(this.hosts, suffixHash(normalizeHostValue(key.value)), index)
      case 'domain':
        return push(this.domains, suffixHash(normalizeHostValue(key.value).replace(/^\*?\./, '')), index)
      case 'ip': {
        const [addr, bits] = parseCidr(key.value)
        if (addr.kind() === 'ipv4') {
          const byPrefix = this.v4.get(bits) ?? new Map<number, number[]>()
          this.v4.set(bits, byPrefix)
          return push(byPrefix, maskV4(ipv4Number(addr as ipaddr.IPv4), bits), index)
        }
        const byPrefix = this.v6.get(bits) ?? new Map<string, number[]>()
        this.v6.set(bits, byPrefix)
        return push(byPrefix, ipv6Key(addr as ipaddr.IPv6, bits), index)
      }
      case 'wildcard': {
        const label = wildcardLabelKey(key.value)
        return label ? push(this.wildcards, labelHash(label), index) : void this.scan.push(index)
      }
      case 'port': {
        const { singles, ranges } = parsePorts(key.value)
        if (ranges.length > 0) return void this.scan.push(index)
        // A rule listed under several ports must still appear once per bucket, in order.
        for (const port of new Set(singles)) push(this.ports, port, index)
        return
      }
      case 'protocol':
        return void (key.value === 'http' ? this.httpOnly : this.connectOnly).push(index)
      case 'regex':
        return void this.regexes.push(index)
      case 'path':
      case 'method':
      case 'header':
        return void this.scan.push(index)
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
    const rule = best === Infinity ? null : this.bySlot[best]!
    return { decision: rule ? rule.decision : this.defaultDecision, rule }
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

export function compileProfile(profile: Pick<Profile, 'rules' | 'defaultAction'>): CompiledRules {
  return new CompiledRules(profile.rules, profile.defaultAction)
}
