/**
 * Stage 2 of a request's path: which rule decides, and through which upstream it goes.
 *
 * A `Routing` is built once per profile change (rules compiled into indexes, one connector per
 * upstream) and swapped whole, so a request that has started keeps the routing it was given.
 */
import type { IncomingMessage } from 'node:http'
import type { LookupFunction } from 'node:net'
import type { Decision, Profile, RequestFacts, Rewrite, Upstream } from '../../common/model.ts'
import { compileProfile, type CompiledRule, type CompiledRules } from '../rules/compile.ts'
import { createUpstreamConnector, type Target, type UpstreamConnector } from './upstream-connect.ts'

export interface Routing {
  profile: Profile
  rules: CompiledRules
  upstreams: Map<string, UpstreamConnector>
}

/** Where one request or tunnel goes, as decided by the active profile. */
export interface Routed {
  profile: Profile
  decision: Decision
  rule: CompiledRule | null
  /** Set when the decision is `upstream`. */
  upstream: UpstreamConnector | null
  /** The deciding rule's header edits, if any. */
  rewrite: Rewrite | null
  /** The deciding rule intercepts HTTPS (CONNECT tunnels only; intercept.ts). */
  intercept: boolean
  /** How the route is shown in statistics: `direct`, an upstream id, `block` or `reject`. */
  label: string
}

/** What connectors to upstreams need: how long to wait, and how to resolve names. */
export interface ConnectSettings {
  connectMs: number
  lookup: LookupFunction | undefined
}

export function buildRouting(profile: Profile, connect: ConnectSettings): Routing {
  const upstreams = new Map<string, UpstreamConnector>(
    profile.upstreams.map((u: Upstream) => [
      u.id,
      createUpstreamConnector(u, connect.connectMs, connect.lookup, profile.upstreams)
    ])
  )
  return { profile, rules: compileProfile(profile), upstreams }
}

/**
 * Routes a request or tunnel to `target`. `req` (plain HTTP and upgrades) lets request matchers see
 * its method, path and headers; they are read only when some rule of the profile has such a matcher.
 */
export function route(routing: Routing, target: Target, isHttp: boolean, req?: IncomingMessage): Routed {
  const { hostname, port } = target
  const request: RequestFacts | undefined =
    req && routing.rules.usesRequest
      ? { method: req.method ?? 'GET', path: target.path, headers: req.headers }
      : undefined
  const { decision, rule } = routing.rules.match({ hostname, port, isHttp, ...(request ? { request } : {}) })
  const upstream =
    decision.action === 'upstream' ? (routing.upstreams.get(decision.upstreamId) ?? null) : null
  if (decision.action === 'upstream' && !upstream)
    // Profiles are validated on save, so this means a bug, not bad input.
    throw new Error(`Profile "${routing.profile.name}" has no upstream "${decision.upstreamId}"`)
  return {
    profile: routing.profile,
    decision,
    rule,
    upstream,
    rewrite: rule?.rule.rewrite ?? null,
    intercept: !isHttp && rule?.rule.intercept === true,
    label: decision.action === 'upstream' ? decision.upstreamId : decision.action
  }
}

/**
 * A request inside an intercepted tunnel, matched again as plain HTTP with what the request shows:
 * the rule it matches supplies edits, a mock or a block, while the route stays the tunnel's.
 */
export function routeInside(routing: Routing, tunnel: Routed, target: Target, req: IncomingMessage): Routed {
  const inner = route(routing, target, true, req)
  const answers = inner.decision.action === 'block' || inner.decision.action === 'reject'
  return {
    ...inner,
    decision: answers ? inner.decision : tunnel.decision,
    upstream: tunnel.upstream,
    label: answers ? inner.label : tunnel.label,
    intercept: true
  }
}

/** Closes the upstreams' pooled connections of a routing that is no longer used. */
export function retireRouting(routing: Routing): void {
  for (const connector of routing.upstreams.values()) connector.close()
}
