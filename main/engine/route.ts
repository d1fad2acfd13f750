/**
 * Stage 2 of a request's path: which rule decides, and through which upstream it goes.
 *
 * A `Routing` is built once per profile change (rules compiled into indexes, one connector per
 * upstream, one router per group) and swapped whole, so a request that has started keeps the routing
 * it was given. A decision naming a group is carried by one of its members (groups.ts); when that
 * member fails before its client got an answer, transport.ts asks `nextMember` for the next one.
 */
import type { IncomingMessage } from 'node:http'
import type { LookupFunction } from 'node:net'
import type { Decision, Profile, RequestFacts, Rewrite, Upstream } from '../../common/model.ts'
import { compileProfile, type CompiledRule, type CompiledRules } from '../rules/compile.ts'
import type { ErrorReply } from './errors.ts'
import { GroupRouter, isMemberFault } from './groups.ts'
import type { LatencyProbe, UpstreamHealth } from './upstream-health.ts'
import { createUpstreamConnector, type Target, type UpstreamConnector } from './upstream-connect.ts'

export interface Routing {
  /** Tells routings apart without holding on to one (RecentRoute). */
  generation: number
  profile: Profile
  rules: CompiledRules
  upstreams: Map<string, UpstreamConnector>
  groups: Map<string, GroupRouter>
}

/** A route through a group: its router, and the members still to try after the one carrying it. */
export interface GroupRoute {
  router: GroupRouter
  rest: UpstreamConnector[]
}

/** Where one request or tunnel goes, as decided by the active profile. */
export interface Routed {
  profile: Profile
  decision: Decision
  rule: CompiledRule | null
  /** Set when the decision is `upstream`: the upstream named, or the group member carrying it. */
  upstream: UpstreamConnector | null
  /** Set when the decision names a group. */
  group: GroupRoute | null
  /** The deciding rule's header edits, if any. */
  rewrite: Rewrite | null
  /** The deciding rule intercepts HTTPS (CONNECT tunnels only; intercept.ts). */
  intercept: boolean
  /**
   * How the route is shown in statistics: `direct`, an upstream id, `member@group` (memberLabel),
   * `block` or `reject`.
   */
  label: string
}

/**
 * What connectors to upstreams need: how long to wait, and how to resolve names; and what groups
 * need: their members' health and a way to measure latencies (none in engines that never measure).
 */
export interface ConnectSettings {
  connectMs: number
  lookup: LookupFunction | undefined
  health: UpstreamHealth
  probe: LatencyProbe | null
}

let generations = 0

/**
 * `previous`: the rules compiled for the routing this one replaces; the rules an edit left as they were
 * are not compiled again (compile.ts).
 */
export function buildRouting(profile: Profile, connect: ConnectSettings, previous?: CompiledRules): Routing {
  const upstreams = new Map<string, UpstreamConnector>(
    profile.upstreams.map((u: Upstream) => [
      u.id,
      createUpstreamConnector(u, connect.connectMs, connect.lookup, profile.upstreams)
    ])
  )
  const groups = new Map<string, GroupRouter>()
  for (const group of profile.groups ?? []) {
    // Validated on save: every member is an upstream of the profile.
    const members = group.members.map((id) => upstreams.get(id)!)
    groups.set(group.id, new GroupRouter(group, members, profile.upstreams, connect.health, connect.probe))
  }
  return { generation: ++generations, profile, rules: compileProfile(profile, previous), upstreams, groups }
}

/**
 * Routes a request or tunnel to `target`. `req` (plain HTTP and upgrades) lets request matchers see
 * its method, path and headers; they are read only when some rule of the profile has such a matcher.
 */
export function route(
  routing: Routing,
  target: Target,
  isHttp: boolean,
  req?: Pick<IncomingMessage, 'method' | 'headers'>
): Routed {
  const { hostname, port } = target
  const request: RequestFacts | undefined =
    req && routing.rules.usesRequest
      ? { method: req.method ?? 'GET', path: target.path, headers: req.headers }
      : undefined
  const { decision, rule } = routing.rules.match({ hostname, port, isHttp, ...(request ? { request } : {}) })
  let upstream: UpstreamConnector | null = null
  let group: GroupRoute | null = null
  if (decision.action === 'upstream') {
    upstream = routing.upstreams.get(decision.upstreamId) ?? null
    const router = upstream ? undefined : routing.groups.get(decision.upstreamId)
    if (router) {
      const [first, ...rest] = router.order()
      upstream = first!
      group = { router, rest }
    }
    if (!upstream)
      // Profiles are validated on save, so this means a bug, not bad input.
      throw new Error(`Profile "${routing.profile.name}" has no upstream "${decision.upstreamId}"`)
  }
  return {
    profile: routing.profile,
    decision,
    rule,
    upstream,
    group,
    rewrite: rule?.rule.rewrite ?? null,
    intercept: !isHttp && rule?.rule.intercept === true,
    label: group
      ? memberLabel(upstream!, group.router)
      : decision.action === 'upstream'
        ? decision.upstreamId
        : decision.action
  }
}

/**
 * The route label of a group's member, `member@group`: statistics name both ("Squid (group Office)",
 * display-names.ts). Ids are letters, digits, `-` and `_`, so `@` cannot occur in either.
 */
function memberLabel(member: UpstreamConnector, router: GroupRouter): string {
  return `${member.upstream.id}@${router.group.id}`
}

/** The last route a client connection's plain-HTTP requests took, kept for the next one. */
export interface RecentRoute {
  /**
   * The routing's generation, not the routing: an idle keep-alive connection must not keep a
   * replaced profile's compiled rules in memory.
   */
  generation: number
  /** The request target exactly as the client sent it, and what it parsed to. */
  url: string
  target: Target
  routed: Routed
}

/**
 * Routes a plain-HTTP request to `target` on a client connection that remembers (in `memo.recent`)
 * where its previous request went: keep-alive requests mostly go where the one before them went, and
 * the decision is the same when the routing (profile) is, the host and port are, and no rule looks at
 * the request itself (method, path, headers). A group's route is decided again every time, as its
 * members' order follows their health.
 */
export function routeAgain(
  routing: Routing,
  target: Target,
  url: string,
  req: IncomingMessage,
  memo: { recent: RecentRoute | null }
): Routed {
  const recent = memo.recent
  if (
    recent !== null &&
    recent.generation === routing.generation &&
    recent.target.hostname === target.hostname &&
    recent.target.port === target.port
  ) {
    recent.url = url
    recent.target = target
    return recent.routed
  }
  const routed = route(routing, target, true, req)
  memo.recent =
    routing.rules.usesRequest || routed.group ? null : { generation: routing.generation, url, target, routed }
  return routed
}

/**
 * After the member carrying `routed` failed before its client got any byte: marks it down when the
 * failure was its own (groups.ts) and returns the route through the next member to try, or null when
 * the route is no group's, the failure was not the member's, or no member is left.
 */
export function nextMember(routed: Routed, reply: ErrorReply): Routed | null {
  const group = routed.group
  if (!group || !isMemberFault(reply)) return null
  group.router.failed(routed.upstream!, reply)
  const [next, ...rest] = group.rest
  if (!next) return null
  return {
    ...routed,
    upstream: next,
    label: memberLabel(next, group.router),
    group: { router: group.router, rest }
  }
}

/** A member failed on its own account where no other member can take over (a request body was sent). */
export function memberFailed(routed: Routed, reply: ErrorReply): void {
  if (routed.group && isMemberFault(reply)) routed.group.router.failed(routed.upstream!, reply)
}

/** The member carrying `routed` connected: it is up again, if it was down. */
export function memberCarried(routed: Routed): void {
  routed.group?.router.succeeded(routed.upstream!)
}

/**
 * A request inside an intercepted tunnel, matched again as plain HTTP with what the request shows:
 * the rule it matches supplies edits, a mock or a block, while the route stays the tunnel's. Through a
 * group, each request asks the group again, so a member found down on one request is skipped by the
 * next.
 */
export function routeInside(routing: Routing, tunnel: Routed, target: Target, req: IncomingMessage): Routed {
  const inner = route(routing, target, true, req)
  const answers = inner.decision.action === 'block' || inner.decision.action === 'reject'
  let { upstream, group, label } = tunnel
  if (group) {
    const [first, ...rest] = group.router.order()
    upstream = first!
    group = { router: group.router, rest }
    label = memberLabel(first!, group.router)
  }
  return {
    ...inner,
    decision: answers ? inner.decision : tunnel.decision,
    upstream,
    group,
    label: answers ? inner.label : label,
    intercept: true
  }
}

/** Closes the upstreams' pooled connections of a routing that is no longer used. */
export function retireRouting(routing: Routing): void {
  for (const connector of routing.upstreams.values()) connector.close()
}
