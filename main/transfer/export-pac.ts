/**
 * A profile as a PAC file, for browsers and machines that should route like Junction without running
 * it. PAC sees the URL and host only, so host, domain, wildcard, regex, IPv4, port and scheme rules
 * are written in order; a rule PAC cannot express (path, method and header matchers, mocks, IPv6
 * blocks) becomes a comment saying so, and the requests it would have decided fall to later rules.
 *
 * The PAC never asks DNS: `isInNet`/`dnsResolve` would resolve names, while Junction's IP rules match
 * only addresses written as IPs, so IPv4 blocks are tested with arithmetic on the host text.
 * Blocked requests are sent to a proxy address nothing listens on, so they fail rather than leak.
 */
import { normalizeHostValue, parseCidr, parsePorts } from '../../common/matcher-checks.ts'
import type { Action, Matcher, Profile, Rule, Upstream, UpstreamGroup } from '../../common/model.ts'
import { explainMatcher } from '../rules/matchers.ts'

/** What a blocked or rejected request gets: the discard port on loopback, where nothing should answer. */
export const PAC_BLOCKED = 'PROXY 127.0.0.1:9'

const PAC_TYPE: Record<Upstream['scheme'], string> = {
  http: 'PROXY',
  https: 'HTTPS',
  socks4: 'SOCKS',
  socks4a: 'SOCKS',
  socks5: 'SOCKS5',
  socks5h: 'SOCKS5'
}

const q = (text: string): string => JSON.stringify(text)

function upstreamRoute(upstream: Upstream): string {
  const host = upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host
  return `${PAC_TYPE[upstream.scheme]} ${host}:${upstream.port}`
}

/**
 * The upstream ids a group's traffic may use, in the order to try them: a manual group only its
 * selected member (the first when none is), the others all members in order.
 */
export function groupMembers(group: UpstreamGroup | undefined): string[] {
  if (!group) return []
  if (group.strategy === 'manual') return [group.selected ?? group.members[0]!]
  return group.members
}

/**
 * The PAC answer for an action; a group lists its members in order, which PAC tries in turn — a
 * failover. PAC cannot spread load or measure latency, so round-robin and lowest-latency groups fail
 * over too.
 */
export function pacRoute(action: Action, profile: Profile): string {
  switch (action.type) {
    case 'direct':
      return 'DIRECT'
    case 'block':
    case 'reject':
      return PAC_BLOCKED
    case 'upstream': {
      const upstream = profile.upstreams.find((u) => u.id === action.upstreamId)
      if (upstream) return upstreamRoute(upstream)
      const group = profile.groups?.find((g) => g.id === action.upstreamId)
      return groupMembers(group)
        .map((id) => profile.upstreams.find((u) => u.id === id))
        .filter((u): u is Upstream => u !== undefined)
        .map(upstreamRoute)
        .join('; ')
    }
  }
}

/** A PAC expression for one matcher, or the reason there is none. */
function condition(matcher: Matcher): { js: string } | { cannot: string } {
  switch (matcher.type) {
    case 'host':
      return { js: `h === ${q(normalizeHostValue(matcher.value))}` }
    case 'domain': {
      const domain = normalizeHostValue(matcher.value).replace(/^\*?\./, '')
      return { js: `(h === ${q(domain)} || dnsDomainIs(h, ${q(`.${domain}`)}))` }
    }
    case 'wildcard':
      return { js: `shExpMatch(h, ${q(normalizeHostValue(matcher.value))})` }
    case 'regex':
      try {
        new RegExp(matcher.value, 'i')
      } catch {
        return { cannot: 'its regular expression uses RE2 syntax JavaScript lacks' }
      }
      return { js: `new RegExp(${q(matcher.value)}, "i").test(h)` }
    case 'ip': {
      const [network, bits] = parseCidr(matcher.value)
      if (network.kind() !== 'ipv4') return { cannot: 'IPv6 blocks are not written to PAC files' }
      const start = network.toByteArray().reduce((n, o) => n * 256 + o, 0)
      return { js: `junctionInV4(h, ${start}, ${bits})` }
    }
    case 'port': {
      const { singles, ranges } = parsePorts(matcher.value)
      const tests = [
        ...singles.map((p) => `port === ${p}`),
        ...ranges.map(([from, to]) => `(port >= ${from} && port <= ${to})`)
      ]
      return { js: `(${tests.join(' || ')})` }
    }
    case 'protocol':
      return { js: matcher.value === 'http' ? 'plainHttp' : '!plainHttp' }
    case 'path':
    case 'method':
    case 'header':
      return { cannot: `a PAC file cannot see a request's ${matcher.type}` }
  }
}

function ruleLines(rule: Rule, index: number, profile: Profile): string[] {
  const label = `rule ${q(rule.name ?? rule.id)} #${index + 1}: ${rule.matchers.map(explainMatcher).join(' and ')}`
  if (!rule.enabled) return [`  // ${label} — disabled`]
  if (rule.respondWith)
    return [`  // ${label} — not exported: Junction answers these requests itself (a mock)`]
  const parts = rule.matchers.map(condition)
  const cannot = parts.find((p): p is { cannot: string } => 'cannot' in p)
  if (cannot) return [`  // ${label} — not exported: ${cannot.cannot}`]
  const js = parts.map((p) => (p as { js: string }).js).join(' && ')
  const notes = [
    ...(rule.action.type === 'block' ? [`blocked (Junction answers ${rule.action.status})`] : []),
    ...(rule.action.type === 'reject' ? ['rejected'] : []),
    ...(rule.rewrite || rule.intercept ? ['header edits and interception need Junction'] : [])
  ]
  return [
    `  // ${label}${notes.length > 0 ? ` — ${notes.join('; ')}` : ''}`,
    `  if (${js}) return ${q(pacRoute(rule.action, profile))};`
  ]
}

export function buildProfilePac(profile: Profile): string {
  const credentials = profile.upstreams.filter((u) => u.username)
  const chained = profile.upstreams.filter((u) => u.via)
  return [
    `// Junction profile ${q(profile.name)} as a PAC file.`,
    '// Rules are tried in order; the first that matches decides.',
    ...(credentials.length > 0
      ? [
          `// PAC files carry no passwords: the browser asks for them (${credentials.map((u) => u.name).join(', ')}).`
        ]
      : []),
    ...(chained.length > 0
      ? [
          `// Chains (an upstream reached through another) are not expressible; listed as their last hop: ${chained.map((u) => u.name).join(', ')}.`
        ]
      : []),
    `// Blocked requests go to ${PAC_BLOCKED}, where nothing listens, so they fail.`,
    'function FindProxyForURL(url, host) {',
    '  var h = host.toLowerCase();',
    '  if (h.charAt(0) === "[") h = h.slice(1, -1);',
    '  if (h.charAt(h.length - 1) === ".") h = h.slice(0, -1);',
    '  var plainHttp = url.slice(0, 5).toLowerCase() === "http:";',
    '  var port = junctionPort(url, plainHttp);',
    ...profile.rules.flatMap((rule, index) => ruleLines(rule, index, profile)),
    `  // default`,
    `  return ${q(pacRoute(profile.defaultAction, profile))};`,
    '}',
    '',
    "// The port in the URL, else the scheme's default.",
    'function junctionPort(url, plainHttp) {',
    '  var m = /^[a-z][a-z0-9+.-]*:\\/\\/(?:[^\\/@]*@)?(?:\\[[^\\]]*\\]|[^\\/:]*)(?::(\\d+))?/i.exec(url);',
    '  return m && m[1] ? parseInt(m[1], 10) : plainHttp ? 80 : 443;',
    '}',
    '',
    '// Whether h is an IPv4 address (written as one) inside start/bits; never looks up a name.',
    'function junctionInV4(h, start, bits) {',
    '  var m = /^(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})$/.exec(h);',
    '  if (!m) return false;',
    '  var n = 0;',
    '  for (var i = 1; i <= 4; i++) {',
    '    var o = parseInt(m[i], 10);',
    '    if (o > 255) return false;',
    '    n = n * 256 + o;',
    '  }',
    '  var size = Math.pow(2, 32 - bits);',
    '  return Math.floor(n / size) === Math.floor(start / size);',
    '}',
    ''
  ].join('\n')
}
