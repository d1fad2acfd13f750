/**
 * SwitchyOmega / ZeroOmega backups (the `.bak` JSON their Import/Export page writes): one key per
 * profile, `+Name` → `{ profileType, … }`. Reference: FelisCatus/SwitchyOmega omega-pac/src/profiles.coffee
 * and conditions.coffee (ZeroOmega, zero-peak/ZeroOmega, keeps the format).
 *
 * - A `FixedProfile` becomes a profile of its own: its proxy as the default, its bypass list as
 *   direct rules first, and `proxyForHttp`/`proxyForHttps` (when they differ from the fallback) as
 *   protocol rules.
 * - A `SwitchProfile` becomes a profile whose rules follow its conditions in order, each naming
 *   `direct` or a fixed profile's proxy (whose bypass list still sends what it lists direct);
 *   `defaultProfileName` becomes the default action.
 * - A virtual profile is followed to the profile it points at.
 * - PAC-script and rule-list (AutoProxy) profiles, and conditions about URLs, keywords, time or host
 *   levels, are listed in the summary.
 */
import type { Action, Matcher, Profile, UpstreamScheme } from '../../common/model.ts'
import { compileHostRegex, normalizeHostValue } from '../../common/matcher-checks.ts'
import { compileGlob } from '../rules/glob.ts'
import { SkipList } from './import-summary.ts'
import { isObject, lookup, ProfileBuilder, readHost, readPort, text } from './profile-builder.ts'

interface OmegaServer {
  scheme?: unknown
  host?: unknown
  port?: unknown
}

type OmegaProfile = Record<string, unknown> & { name?: unknown; profileType?: unknown }

/** A backup has `+name` profile keys (and `-option` keys, which hold preferences, not profiles). */
export function isSwitchyOmega(doc: unknown): boolean {
  return (
    isObject(doc) &&
    Object.entries(doc).some(
      ([key, value]) => key.startsWith('+') && isObject(value) && 'profileType' in value
    )
  )
}

/**
 * Chrome, where these extensions run, sends host names to a SOCKS5 proxy (remote DNS); `socks5h` is
 * how Junction says that. SOCKS4 cannot carry names, so it stays `socks4`.
 */
const SCHEMES: Record<string, UpstreamScheme> = {
  http: 'http',
  https: 'https',
  socks4: 'socks4',
  socks5: 'socks5h'
}

const PROXY_FIELDS = ['fallbackProxy', 'proxyForHttp', 'proxyForHttps'] as const

/** The proxies of a fixed profile, as upstreams of the profile being built; keyed by field. */
function addFixedUpstreams(
  fixed: OmegaProfile,
  builder: ProfileBuilder,
  skipped: SkipList
): Partial<Record<(typeof PROXY_FIELDS)[number], string>> {
  const name = text(fixed.name)
  const auth = isObject(fixed.auth) ? fixed.auth : {}
  const ids: Partial<Record<(typeof PROXY_FIELDS)[number], string>> = {}
  for (const field of PROXY_FIELDS) {
    const server = fixed[field] as OmegaServer | undefined
    if (!isObject(server)) continue
    const scheme = lookup(SCHEMES, server.scheme)
    const host = readHost(server.host)
    const port = readPort(server.port)
    if (!scheme || !host || !port) {
      skipped.skip(
        'proxies Junction cannot use (unknown scheme or bad address)',
        `${name}: ${text(server.scheme)}://${text(server.host)}:${text(server.port)}`
      )
      continue
    }
    const login = isObject(auth[field]) ? (auth[field] as Record<string, unknown>) : {}
    const id = builder.addUpstream({
      name: field === 'fallbackProxy' ? name : `${name} (${field === 'proxyForHttp' ? 'http' : 'https'})`,
      scheme,
      host,
      port,
      ...(typeof login.username === 'string' && login.username ? { username: login.username } : {}),
      ...(typeof login.password === 'string' && login.password ? { password: login.password } : {})
    })
    if (id !== null) ids[field] = id
  }
  return ids
}

/**
 * A bypass entry (Chrome's bypass-list syntax, as SwitchyOmega reads it) as matchers: `<local>`,
 * `host`, `*.domain`, `.domain`, an IP, `ip/prefix`, and `host:port`. A scheme prefix is not kept.
 */
function bypassMatchers(pattern: string, source: string, skipped: SkipList): Matcher[][] {
  let text = pattern.trim()
  if (text === '<local>')
    // SwitchyOmega's own reading of <local> (conditions.coffee localHosts), not Chrome's "no dots".
    return [
      [{ type: 'host', value: 'localhost' }],
      [{ type: 'ip', value: '127.0.0.1' }],
      [{ type: 'ip', value: '::1' }]
    ]
  if (text.includes('://')) {
    skipped.skip('bypass entries limited to one scheme (Junction bypasses for every scheme)', source)
    text = text.slice(text.indexOf('://') + 3)
  }
  if (text.includes('/')) return [[{ type: 'ip', value: text }]]
  let port: string | null = null
  const hostPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text)
  if (hostPort) {
    text = hostPort[1]!
    port = hostPort[2]!
  }
  const host = text.replace(/^\[(.*)\]$/, '$1')
  const matcher: Matcher =
    /^[\d.]+$/.test(host) || host.includes(':')
      ? { type: 'ip', value: host }
      : host.includes('*') || host.startsWith('.')
        ? { type: 'wildcard', value: host.startsWith('.') ? `*${host}` : host }
        : { type: 'host', value: host }
  return [port ? [matcher, { type: 'port', value: port }] : [matcher]]
}

/** A switch rule's condition as alternatives (any of them matches), or null when Junction cannot say it. */
function conditionMatchers(condition: Record<string, unknown>, skipped: SkipList): Matcher[][] | null {
  const type = text(condition.conditionType)
  const pattern = typeof condition.pattern === 'string' ? condition.pattern : ''
  const { conditionType: _type, ...fields } = condition
  const source = `${type}: ${pattern || JSON.stringify(fields)}`
  switch (type) {
    case 'HostWildcardCondition':
      // conditions.coffee: `*.x` also matches x itself (a domain rule), `**.x` only its subdomains,
      // and `|` separates alternatives.
      return pattern
        .split('|')
        .filter(Boolean)
        .map((part) => {
          const p = part.startsWith('.') ? `*${part}` : part
          if (p.startsWith('**.')) return [{ type: 'wildcard', value: p.slice(1) }]
          if (p.startsWith('*.') && !p.slice(2).includes('*') && !p.includes('?'))
            return [{ type: 'domain', value: p.slice(2) }]
          return [/[*?]/.test(p) ? { type: 'wildcard', value: p } : { type: 'host', value: p }]
        })
    case 'HostRegexCondition':
      return [[{ type: 'regex', value: pattern }]]
    case 'UrlWildcardCondition': {
      // `*://host/*` says nothing about the URL beyond its host (conditions.coffee urlWildcard2HostWildcard).
      const alternatives = pattern.split('|').filter(Boolean)
      const hosts = alternatives.map((p) => /^\*:\/\/((?:\w|[-?*.])+)\/\*$/.exec(p)?.[1])
      if (hosts.some((h) => h === undefined)) {
        skipped.skip('URL conditions (Junction matches hosts, not paths of HTTPS URLs)', source)
        return null
      }
      return hosts.map((h) => [
        /[*?]/.test(h!) ? { type: 'wildcard', value: h! } : { type: 'host', value: h! }
      ])
    }
    case 'IpCondition':
      return [[{ type: 'ip', value: `${text(condition.ip)}/${text(condition.prefixLength)}` }]]
    case 'BypassCondition':
      return bypassMatchers(pattern, source, skipped)
    case 'TrueCondition':
      return [[{ type: 'wildcard', value: '*' }]]
    case 'UrlRegexCondition':
    case 'KeywordCondition':
      skipped.skip('URL conditions (Junction matches hosts, not paths of HTTPS URLs)', source)
      return null
    default:
      skipped.skip(`${type}s`, source)
      return null
  }
}

const isIpLiteral = (value: string): boolean => /^[\d.]+$/.test(value) || value.includes(':')

/**
 * Whether a wildcard or regex can only match names: it spells a letter beyond a–f (which IPv6
 * literals use) outside escapes and classes, and has no alternative (`|`) that might not.
 */
function onlyNames(m: Matcher): boolean {
  if (m.type === 'host' || m.type === 'domain') return !isIpLiteral(m.value)
  if (m.type === 'wildcard') return /[g-z]/i.test(m.value)
  if (m.type === 'regex')
    return !m.value.includes('|') && /[g-z]/i.test(m.value.replace(/\\.|\[[^\]]*\]/g, ''))
  return false
}

/** Whether one host could satisfy both matchers; false only when they plainly exclude each other. */
function compatible(a: Matcher, b: Matcher): boolean {
  if ((onlyNames(a) && b.type === 'ip') || (onlyNames(b) && a.type === 'ip')) return false
  const [host, other] = a.type === 'host' ? [a, b] : b.type === 'host' ? [b, a] : [null, null]
  if (!host || !other) return true
  const name = normalizeHostValue(host.value)
  switch (other.type) {
    case 'host':
      return name === normalizeHostValue(other.value)
    case 'domain': {
      const domain = normalizeHostValue(other.value)
      return name === domain || name.endsWith(`.${domain}`)
    }
    case 'wildcard':
      return compileGlob(normalizeHostValue(other.value), { question: true, ignoreCase: false })(name)
    case 'regex':
      return compileHostRegex(other.value).test(name)
    default:
      return true
  }
}

/**
 * A switch rule's condition ANDed with a bypass entry is worth a rule only when some host can meet
 * both (`localhost` and `10.0.0.0/8` cannot): SwitchyOmega's default bypass list would otherwise add
 * never-matching rules after every rule.
 */
function bothCanMatch(rule: Matcher[], bypass: Matcher[]): boolean {
  return rule.every((a) => bypass.every((b) => compatible(a, b)))
}

export function importSwitchyOmega(doc: Record<string, unknown>, skipped: SkipList): Profile[] {
  const byName = new Map<string, OmegaProfile>()
  for (const [key, value] of Object.entries(doc))
    if (key.startsWith('+') && isObject(value)) byName.set(key.slice(1), { name: key.slice(1), ...value })

  const profiles: Profile[] = []
  for (const omega of byName.values()) {
    const name = text(omega.name)
    switch (omega.profileType) {
      case 'FixedProfile':
        profiles.push(fixedProfile(omega, skipped))
        break
      case 'SwitchProfile':
        profiles.push(switchProfile(omega, byName, skipped))
        break
      case 'PacProfile':
        skipped.skip('PAC-script profiles', name)
        break
      case 'RuleListProfile':
        skipped.skip('rule-list profiles (AutoProxy/Switchy lists)', name)
        break
      case 'VirtualProfile':
        // Not a profile of its own: switch rules that name it use the profile it points at.
        break
      default:
        skipped.skip('profiles of other types', `${name} (${text(omega.profileType)})`)
    }
  }
  return profiles
}

/** A fixed profile's bypass list: alternatives, each with the pattern it came from. */
function bypassOf(fixed: OmegaProfile, skipped: SkipList): Array<{ pattern: string; matchers: Matcher[] }> {
  const list = Array.isArray(fixed.bypassList) ? fixed.bypassList : []
  return list.flatMap((entry) =>
    isObject(entry) && typeof entry.pattern === 'string'
      ? bypassMatchers(entry.pattern, `bypass: ${entry.pattern}`, skipped).map((matchers) => ({
          pattern: entry.pattern as string,
          matchers
        }))
      : []
  )
}

function fixedProfile(omega: OmegaProfile, skipped: SkipList): Profile {
  const builder = new ProfileBuilder(text(omega.name), skipped)
  const ids = addFixedUpstreams(omega, builder, skipped)
  for (const { pattern, matchers } of bypassOf(omega, skipped))
    builder.addRule(matchers, { type: 'direct' }, `bypass: ${pattern}`, `Bypass ${pattern}`)
  const fallback = ids.fallbackProxy
  if (ids.proxyForHttp && ids.proxyForHttp !== fallback)
    builder.addRule(
      [{ type: 'protocol', value: 'http' }],
      { type: 'upstream', upstreamId: ids.proxyForHttp },
      'proxyForHttp',
      'HTTP'
    )
  if (ids.proxyForHttps && ids.proxyForHttps !== fallback)
    builder.addRule(
      [{ type: 'protocol', value: 'connect' }],
      { type: 'upstream', upstreamId: ids.proxyForHttps },
      'proxyForHttps',
      'HTTPS'
    )
  // Without a fallback proxy, SwitchyOmega sends the other schemes direct.
  builder.setDefault(fallback ? { type: 'upstream', upstreamId: fallback } : { type: 'direct' })
  return builder.build()
}

function switchProfile(omega: OmegaProfile, byName: Map<string, OmegaProfile>, skipped: SkipList): Profile {
  const name = text(omega.name)
  const builder = new ProfileBuilder(name, skipped)
  const upstreamFor = new Map<string, string>()

  /**
   * The action for a result profile name, adding the fixed profile's proxy on first use, and that
   * profile's bypass list: SwitchyOmega sends what it lists DIRECT even when a switch rule chose the
   * proxy. (Its per-scheme proxies are not followed here; the fixed profile's own import has them.)
   */
  const targetFor = (target: unknown, source: string): { action: Action; bypass: Matcher[][] } | null => {
    let result = text(target)
    // A virtual profile stands for the profile it currently points at (its defaultProfileName).
    for (let hops = 0; byName.get(result)?.profileType === 'VirtualProfile' && hops < 8; hops++)
      result = text(byName.get(result)!.defaultProfileName)
    if (result === 'direct') return { action: { type: 'direct' }, bypass: [] }
    const fixed = byName.get(result)
    if (fixed?.profileType !== 'FixedProfile') {
      skipped.skip(
        result === 'system'
          ? 'rules that use the system proxy settings'
          : 'rules whose result is not a proxy or direct (switch, PAC or rule-list profiles)',
        source
      )
      return null
    }
    let id = upstreamFor.get(result)
    if (id === undefined) {
      const ids = addFixedUpstreams(
        { ...fixed, proxyForHttp: undefined, proxyForHttps: undefined },
        builder,
        skipped
      )
      if (!ids.fallbackProxy) return null
      id = ids.fallbackProxy
      upstreamFor.set(result, id)
    }
    // The fixed profile's own import reports its bypass entries; here they are only followed.
    const bypass = bypassOf(fixed, new SkipList()).map((b) => b.matchers)
    return { action: { type: 'upstream', upstreamId: id }, bypass }
  }

  const rules = Array.isArray(omega.rules) ? omega.rules : []
  for (const rule of rules) {
    if (!isObject(rule) || !isObject(rule.condition)) continue
    const condition = rule.condition
    const source = `${text(condition.conditionType)}: ${text(condition.pattern ?? condition.ip ?? '')} → ${text(rule.profileName)}`
    const alternatives = conditionMatchers(condition, skipped)
    if (!alternatives) continue
    const target = targetFor(rule.profileName, source)
    if (!target) continue
    for (const matchers of alternatives) {
      for (const bypass of target.bypass)
        if (bothCanMatch(matchers, bypass))
          builder.addRule([...matchers, ...bypass], { type: 'direct' }, source, `${source} (bypassed)`)
      builder.addRule(matchers, target.action, source)
    }
  }
  const fallback = targetFor(omega.defaultProfileName, `default → ${text(omega.defaultProfileName)}`)
  if (!fallback) skipped.note(`"${name}": its default profile could not be imported; the default is direct`)
  for (const bypass of fallback?.bypass ?? [])
    builder.addRule(bypass, { type: 'direct' }, 'default bypass', 'Bypass of the default profile')
  builder.setDefault(fallback?.action ?? { type: 'direct' })
  return builder.build()
}
