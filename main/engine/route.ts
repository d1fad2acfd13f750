/**
 * Stage 2 of a request's path: which rule decides, and through which upstream it goes.
 *
 * A `Routing` is built once per profile change (rules compiled into indexes, one connector per
 * upstream) and swapped whole, so a request that has started keeps the routing it was given.
 */
import type { LookupFunction } from 'node:net'
import type { Decision, Profile, Rewrite, Upstream } from '../../common/model.ts'
import { compileProfile, type CompiledRule, type CompiledRules } from '../rules/compile.ts'
import { createUpstreamConnector, type UpstreamConnector } from './upstream-connect.ts'

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
      createUpstreamConnector(u, connect.connectMs, connect.lookup)
    ])
  )
  return { profile, rules: compileProfile(profile), upstreams }
}

export function route(routing: Routing, hostname: string, port: number, isHttp: boolean): Routed {
  const { decision, rule } = routing.rules.match({ hostname, port, isHttp })
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

/** Closes the upstreams' pooled connections of a routing that is no longer used. */
export function retireRouting(routing: Routing): void {
  for (const connector of routing.upstreams.values()) connector.close()
}
