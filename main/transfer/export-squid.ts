/**
 * A profile as a Squid configuration (Squid 5 and later), so a team can run the same routing on its
 * own Squid: a `cache_peer` per HTTP(S) upstream with its login, an `acl` per matcher, and the rules
 * in order as `http_access` (blocks, with `deny_info` for the status), `always_direct`/`never_direct`
 * (direct or not) and `cache_peer_access` (which peer).
 *
 * Squid reads each of those lists top to bottom and stops at the first line that matches, so every
 * list repeats the rules in Junction's order — allowing or denying — to keep "first matching rule
 * wins" across all three. What Squid cannot do (SOCKS upstreams, chains, header matchers, mocks,
 * header edits, RE2-only regex syntax) is written as a comment, and those rules are left out.
 *
 * `-n` on the domain ACLs stops Squid from reverse-resolving IP targets; `dst` ACLs do resolve names
 * (Junction's IP rules match only targets written as IPs): said in the header.
 */
import { normalizeHostValue, parsePorts } from '../../common/matcher-checks.ts'
import type { Action, Matcher, Profile, Rule, Upstream } from '../../common/model.ts'
import { explainMatcher } from '../rules/matchers.ts'
import { groupMembers } from './export-pac.ts'

const CLIENTS = 'junction_clients'
const CONNECT = 'junction_connect'

const peerName = (upstream: Upstream): string => `junction_${upstream.id}`

/** Why Squid cannot use an upstream as a parent, or null when it can. */
function peerProblem(upstream: Upstream): string | null {
  if (upstream.scheme !== 'http' && upstream.scheme !== 'https')
    return `Squid has no ${upstream.scheme} parents`
  if (upstream.via) return 'Squid cannot reach a parent through another parent (a chain)'
  return null
}

/**
 * `login=user:password` is URL-unescaped by Squid (squid.conf.documented: "The string can include
 * URL escapes"), so `:`, `%`, spaces and `#` survive when escaped.
 */
function peerLine(upstream: Upstream, roundRobin: boolean): string {
  const host = upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host
  const login =
    upstream.username !== undefined
      ? ` login=${encodeURIComponent(upstream.username)}:${encodeURIComponent(upstream.password ?? '')}`
      : ''
  const tls = upstream.scheme === 'https' ? ' tls' : ''
  // Squid spreads requests over the allowed parents marked round-robin; others it tries in order.
  const spread = roundRobin ? ' round-robin' : ''
  return `cache_peer ${host} parent ${upstream.port} 0 no-query no-digest no-netdb-exchange name=${peerName(upstream)}${login}${tls}${spread}`
}

/** A `*`/`?` pattern as an anchored regex; a leading or trailing `*` is left unanchored instead (Squid warns about `^.*`). */
function globToRegex(glob: string): string {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  const start = body.startsWith('.*') ? body.slice(2) : `^${body}`
  const regex = start.endsWith('.*') && !start.endsWith('\\.*') ? start.slice(0, -2) : `${start}$`
  // `*` alone: any non-empty host.
  return regex === '' || regex === '$' ? '.' : regex
}

/** One ACL line's type and values for a matcher, or why Squid cannot express it. */
function aclFor(matcher: Matcher): { acl: string } | { cannot: string } {
  switch (matcher.type) {
    case 'host':
      return { acl: `dstdomain -n ${normalizeHostValue(matcher.value)}` }
    case 'domain':
      // A leading dot: the domain and its subdomains.
      return { acl: `dstdomain -n .${normalizeHostValue(matcher.value).replace(/^\*?\./, '')}` }
    case 'wildcard':
      return { acl: `dstdom_regex -n -i ${globToRegex(normalizeHostValue(matcher.value))}` }
    case 'regex':
      // Squid uses POSIX extended regular expressions: no (?…) groups, \d or lazy quantifiers, and
      // a space would split the pattern in two.
      return /\(\?|\\[dD]|[*+?}]\?|\s/.test(matcher.value)
        ? { cannot: 'its regular expression uses syntax POSIX regex (Squid) lacks' }
        : { acl: `dstdom_regex -n -i ${matcher.value}` }
    case 'ip':
      return { acl: `dst ${matcher.value.trim()}` }
    case 'port': {
      const { singles, ranges } = parsePorts(matcher.value)
      return { acl: `port ${[...singles, ...ranges.map(([a, b]) => `${a}-${b}`)].join(' ')}` }
    }
    case 'protocol':
      return { acl: '' }
    case 'method':
      return {
        acl: `method ${matcher.value
          .split(',')
          .map((m) => m.trim().toUpperCase())
          .join(' ')}`
      }
    case 'path':
      return matcher.value.includes('*')
        ? { acl: `urlpath_regex ${globToRegex(matcher.value)}` }
        : { acl: `urlpath_regex ^${matcher.value.replace(/[.+^${}()|[\]\\?*]/g, '\\$&')}` }
    case 'header':
      return { cannot: 'header matchers are not exported' }
  }
}

/** The parents an action may use (empty for direct and blocks), or why it cannot be exported. */
function peersFor(action: Action, profile: Profile): { peers: Upstream[] } | { cannot: string } {
  if (action.type !== 'upstream') return { peers: [] }
  const upstream = profile.upstreams.find((u) => u.id === action.upstreamId)
  const group = profile.groups?.find((g) => g.id === action.upstreamId)
  const members = upstream
    ? [upstream]
    : groupMembers(group).flatMap((id) => profile.upstreams.filter((u) => u.id === id))
  const usable = members.filter((u) => peerProblem(u) === null)
  if (usable.length === 0)
    return { cannot: members.map((u) => `"${u.name}": ${peerProblem(u)}`).join('; ') || 'no such upstream' }
  return { peers: usable }
}

interface ExportedRule {
  rule: Rule
  /** ACL names to put on a line (ANDed), the rule's own last for deny_info. */
  acls: string[]
  peers: Upstream[]
}

export function buildSquidConfig(profile: Profile): string {
  const out: string[] = [
    `# Junction profile "${profile.name}" as a Squid configuration (Squid 5 or later).`,
    '# Add it to squid.conf after http_port, in place of the http_access lines: it allows the',
    `# clients in ${CLIENTS} (edit it) and routes as the profile's rules do, first match winning.`,
    "# Note: Squid's dst ACLs also match host names that resolve into the block; Junction's IP rules",
    '# match only targets written as IP addresses.',
    `acl ${CLIENTS} src 127.0.0.1/32 ::1`,
    `acl ${CONNECT} method CONNECT`,
    ''
  ]
  const peers = profile.upstreams.filter((u) => peerProblem(u) === null)
  const spread = new Set(
    (profile.groups ?? []).filter((g) => g.strategy === 'round-robin').flatMap((g) => g.members)
  )
  for (const upstream of profile.upstreams) {
    const problem = peerProblem(upstream)
    if (problem) out.push(`# upstream "${upstream.name}" not exported: ${problem}`)
    else {
      out.push(`# upstream "${upstream.name}"`, peerLine(upstream, spread.has(upstream.id)))
      if (upstream.ca)
        out.push(`#   its CA certificate is in Junction: save it and add tls-cafile=FILE above`)
    }
  }
  for (const group of profile.groups ?? [])
    out.push(
      group.strategy === 'manual'
        ? `# group "${group.name}" (manual): its selected member only`
        : `# group "${group.name}" (${group.strategy}): Squid tries the allowed parents in the order above${group.strategy === 'round-robin' ? ', spreading requests (round-robin)' : group.strategy === 'lowest-latency' ? '; it does not measure latency' : ''}`
    )
  out.push('')

  const exported: ExportedRule[] = []
  for (const [index, rule] of profile.rules.entries()) {
    const label = `rule "${rule.name ?? rule.id}" #${index + 1}: ${rule.matchers.map(explainMatcher).join(' and ')}`
    if (!rule.enabled) {
      out.push(`# ${label} — disabled`)
      continue
    }
    if (rule.respondWith) {
      out.push(`# ${label} — not exported: Junction answers these requests itself (a mock)`)
      continue
    }
    const parts = rule.matchers.map(aclFor)
    const cannot = parts.find((p): p is { cannot: string } => 'cannot' in p)
    const route = peersFor(rule.action, profile)
    if (cannot || 'cannot' in route) {
      out.push(`# ${label} — not exported: ${cannot?.cannot ?? (route as { cannot: string }).cannot}`)
      continue
    }
    out.push(
      `# ${label}${rule.rewrite || rule.intercept ? ' (its header edits and interception need Junction)' : ''}`
    )
    const acls: string[] = []
    // Request matchers never match a CONNECT in Junction: Squid must not test them on one either.
    if (rule.matchers.some((m) => m.type === 'path' || m.type === 'method')) acls.push(`!${CONNECT}`)
    for (const [j, matcher] of rule.matchers.entries()) {
      if (matcher.type === 'protocol') {
        acls.push(matcher.value === 'connect' ? CONNECT : `!${CONNECT}`)
        continue
      }
      const name = `junction_r${index + 1}_${j + 1}`
      out.push(`acl ${name} ${(parts[j] as { acl: string }).acl}`)
      acls.push(name)
    }
    // A protocol matcher and a request matcher may both ask for `!junction_connect`.
    exported.push({ rule, acls: [...new Set(acls)], peers: route.peers })
  }
  out.push('')

  const fallback = peersFor(profile.defaultAction, profile)
  const defaultPeers = 'peers' in fallback ? fallback.peers : []
  if ('cannot' in fallback)
    out.push(`# default action not exported (${fallback.cannot}): the default is direct`)
  const defaultAction: Action = 'cannot' in fallback ? { type: 'direct' } : profile.defaultAction

  out.push('# Blocks, and which clients may use the proxy')
  for (const { rule, acls } of exported) {
    const line = acls.join(' ')
    if (rule.action.type === 'block' || rule.action.type === 'reject') {
      out.push(`http_access deny ${line}`)
      // deny_info names the last ACL of the denying line.
      out.push(
        `deny_info ${rule.action.type === 'reject' ? 'TCP_RESET' : `${rule.action.status}:ERR_ACCESS_DENIED`} ${acls[acls.length - 1]}`
      )
    } else out.push(`http_access allow ${CLIENTS} ${line}`)
  }
  if (defaultAction.type === 'block' || defaultAction.type === 'reject') {
    out.push('http_access deny all')
    out.push(
      `deny_info ${defaultAction.type === 'reject' ? 'TCP_RESET' : `${defaultAction.status}:ERR_ACCESS_DENIED`} all`
    )
  } else out.push(`http_access allow ${CLIENTS}`, 'http_access deny all')
  out.push('')

  out.push('# Direct or through a parent')
  for (const { rule, acls } of exported) {
    if (rule.action.type === 'direct') out.push(`always_direct allow ${acls.join(' ')}`)
    else if (rule.action.type === 'upstream') out.push(`always_direct deny ${acls.join(' ')}`)
  }
  if (defaultAction.type === 'direct') out.push('always_direct allow all')
  for (const { rule, acls } of exported)
    if (rule.action.type === 'upstream') out.push(`never_direct allow ${acls.join(' ')}`)
  if (defaultAction.type === 'upstream') out.push('never_direct allow all')
  out.push('')

  for (const peer of peers) {
    out.push(`# Requests parent "${peer.name}" may carry`)
    for (const { rule, acls, peers: allowed } of exported)
      if (rule.action.type === 'upstream')
        out.push(
          `cache_peer_access ${peerName(peer)} ${allowed.includes(peer) ? 'allow' : 'deny'} ${acls.join(' ')}`
        )
    out.push(`cache_peer_access ${peerName(peer)} ${defaultPeers.includes(peer) ? 'allow' : 'deny'} all`)
  }
  return `${out.join('\n')}\n`
}
