/**
 * Clash / mihomo configurations (YAML): `proxies`, `proxy-groups` and `rules` become one profile.
 * Reference: the mihomo wiki (wiki.metacubex.one: config/proxies, config/proxy-groups, config/rules).
 *
 * - Proxies of type `http` (with `tls: true`: an HTTPS proxy) and `socks5` become upstreams; every
 *   other type (ss, vmess, trojan, …) is listed in the summary.
 * - Groups: `select` → manual, `fallback` → failover, `url-test` → lowest-latency, `load-balance` →
 *   round-robin, `relay` → a chain (`via`). Junction groups hold upstreams only, so DIRECT/REJECT or
 *   nested groups are left out.
 * - Rules `TYPE,VALUE,TARGET[,no-resolve]` in order; `MATCH` (or `FINAL`) is the default action.
 */
import { parse } from 'yaml'
import { MAX_CHAIN_HOPS, type Action, type GroupStrategy, type Profile } from '../../common/model.ts'
import { CLASH_MATCHERS } from '../../common/rule-lines.ts'
import type { SkipList } from './import-summary.ts'
import { isObject, lookup, ProfileBuilder, readHost, readPort, text } from './profile-builder.ts'

/** The YAML as a Clash configuration, or null when it is not one. */
export function readClash(text: string): Record<string, unknown> | null {
  let doc: unknown
  try {
    // Warnings (unknown tags, directives) would go to the process's warning output; the summary speaks instead.
    doc = parse(text, { logLevel: 'error' })
  } catch {
    return null
  }
  return isObject(doc) &&
    (Array.isArray(doc.proxies) || Array.isArray(doc['proxy-groups']) || Array.isArray(doc.rules))
    ? doc
    : null
}

const STRATEGIES: Record<string, GroupStrategy> = {
  select: 'manual',
  fallback: 'failover',
  'url-test': 'lowest-latency',
  'load-balance': 'round-robin'
}

/**
 * A `relay` group sends traffic through its proxies in order, the last one reaching the target: in
 * Junction, a copy of the last proxy reached `via` a copy of the one before, and so on (the originals
 * stay as they are for rules that name them directly). Returns the last copy's id.
 */
function relayChain(
  groupName: string,
  group: Record<string, unknown>,
  targets: Map<string, string>,
  builder: ProfileBuilder,
  skipped: SkipList
): string | null {
  const names = Array.isArray(group.proxies) ? group.proxies.map(text) : []
  const hops = names.map((name) => {
    const id = targets.get(name)
    return id === undefined ? undefined : builder.upstream(id)
  })
  if (names.length === 0 || names.length > MAX_CHAIN_HOPS || hops.some((hop) => hop === undefined)) {
    skipped.skip(
      `relay groups Junction cannot chain (at most ${MAX_CHAIN_HOPS} plain proxies)`,
      `${groupName}: ${names.join(' → ')}`
    )
    return null
  }
  // The first hop is reached directly: the original proxy serves.
  let previous: string | null = hops[0]!.id
  for (const [i, hop] of hops.entries()) {
    if (i === 0) continue
    const { id: _id, ...fields } = hop!
    const name = i === hops.length - 1 ? groupName : `${groupName}: ${fields.name}`
    previous = builder.addUpstream({ ...fields, name, via: previous })
    if (previous === null) return null
  }
  return previous
}

export function importClash(doc: Record<string, unknown>, skipped: SkipList, fileName?: string): Profile[] {
  const name =
    typeof doc.name === 'string' && doc.name ? doc.name : fileName ? `Clash (${fileName})` : 'Clash'
  const builder = new ProfileBuilder(name, skipped)
  /** Clash name → Junction upstream or group id. */
  const targets = new Map<string, string>()

  for (const proxy of Array.isArray(doc.proxies) ? doc.proxies.filter(isObject) : []) {
    const proxyName = text(proxy.name)
    const type = text(proxy.type)
    if (type !== 'http' && type !== 'socks5') {
      skipped.skip(`proxies of type ${type}`, proxyName)
      continue
    }
    if (type === 'socks5' && proxy.tls === true) {
      skipped.skip('SOCKS5 proxies over TLS', proxyName)
      continue
    }
    const host = readHost(proxy.server)
    const port = readPort(proxy.port)
    if (!host || !port) {
      skipped.skip('proxies without a usable address', proxyName)
      continue
    }
    if (proxy['skip-cert-verify'] === true)
      skipped.note(
        `"${proxyName}": skip-cert-verify is not imported; Junction checks the proxy's certificate`
      )
    const id = builder.addUpstream({
      name: proxyName,
      // mihomo's socks5 proxies resolve names on the proxy unless told otherwise.
      scheme: type === 'socks5' ? 'socks5h' : proxy.tls === true ? 'https' : 'http',
      host,
      port,
      ...(typeof proxy.username === 'string' && proxy.username ? { username: proxy.username } : {}),
      ...(typeof proxy.password === 'string' && proxy.password ? { password: proxy.password } : {})
    })
    if (id !== null) targets.set(proxyName, id)
  }

  for (const group of Array.isArray(doc['proxy-groups']) ? doc['proxy-groups'].filter(isObject) : []) {
    const groupName = text(group.name)
    if (group.type === 'relay') {
      const chain = relayChain(groupName, group, targets, builder, skipped)
      if (chain !== null) targets.set(groupName, chain)
      continue
    }
    const strategy = lookup(STRATEGIES, group.type)
    if (!strategy) {
      skipped.skip(`proxy groups of type ${text(group.type)}`, groupName)
      continue
    }
    const members: string[] = []
    for (const member of Array.isArray(group.proxies) ? group.proxies.map(text) : []) {
      const id = targets.get(member)
      // Only upstreams: a group id here would be a group inside a group.
      if (id !== undefined && !builder.isGroup(id)) members.push(id)
      else
        skipped.skip(
          'group members that are not plain proxies (DIRECT, REJECT, other groups, skipped proxies)',
          `${groupName}: ${member}`
        )
    }
    if (Array.isArray(group.use) && group.use.length > 0)
      skipped.skip('proxy providers (group "use")', `${groupName}: ${group.use.map(text).join(', ')}`)
    if (members.length === 0) {
      skipped.skip('proxy groups left with no usable member', groupName)
      continue
    }
    targets.set(groupName, builder.addGroup(groupName, strategy, members))
  }

  if (isObject(doc['proxy-providers']))
    for (const provider of Object.keys(doc['proxy-providers']))
      skipped.skip('proxy providers (proxy lists Clash downloads)', provider)

  const actionFor = (target: string): Action | null => {
    if (target === 'DIRECT') return { type: 'direct' }
    if (target === 'REJECT') return { type: 'block', status: 403, body: 'Blocked by rule (REJECT)' }
    if (target === 'REJECT-DROP') return { type: 'reject' }
    const id = targets.get(target)
    return id === undefined ? null : { type: 'upstream', upstreamId: id }
  }

  let ipRules = 0
  for (const line of Array.isArray(doc.rules) ? doc.rules.map(text) : []) {
    const parts = line.split(',').map((p) => p.trim())
    const type = parts[0]!.toUpperCase()
    if (!/^[A-Z][A-Z0-9-]*$/.test(type)) {
      skipped.skip('rules Junction cannot read', line)
      continue
    }
    if (type === 'MATCH' || type === 'FINAL') {
      const action = actionFor(parts[1] ?? '')
      if (action) builder.setDefault(action)
      else skipped.skip('rules whose target was not imported', line)
      // Clash stops at MATCH: later rules never apply.
      break
    }
    const toMatcher = lookup(CLASH_MATCHERS, type)
    if (!toMatcher) {
      skipped.skip(`${type} rules`, line)
      continue
    }
    const action = actionFor(parts[2] ?? '')
    if (!action) {
      skipped.skip('rules whose target was not imported', line)
      continue
    }
    if (builder.addRule([toMatcher(parts[1] ?? '')], action, line, line) && type.startsWith('IP-CIDR'))
      ipRules++
  }
  if (ipRules > 0)
    skipped.note(
      `${ipRules} IP-CIDR ${ipRules === 1 ? 'rule matches' : 'rules match'} only requests addressed to an IP; Clash also resolves host names to test them`
    )
  return [builder.build()]
}
