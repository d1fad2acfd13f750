/**
 * Answers "what would Junction do with this URL, and why?" for the rule editor and for tests.
 */
import type { Decision, Explanation, Profile, Rewrite, RouteTarget } from '../../common/model.ts'
import { compileProfile, type CompiledRules } from './compile.ts'
import { explainMatcher } from './matchers.ts'

/**
 * Reads what a user types into a target: `http://host[:port]/…` is a plain HTTP request, `https://…`
 * and bare `host:port` are CONNECT tunnels, the way browsers send them through a proxy.
 */
export function parseTarget(input: string): RouteTarget {
  const text = input.trim()
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    const url = new URL(text)
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`Only http:// and https:// URLs can be explained (was ${url.protocol}//)`)
    const isHttp = url.protocol === 'http:'
    const port = url.port ? Number(url.port) : isHttp ? 80 : 443
    return { hostname: url.hostname, port, isHttp }
  }
  const url = new URL(`connect://${text}`)
  if (!url.hostname) throw new Error(`"${input}" is neither a URL nor host:port`)
  return { hostname: url.hostname, port: url.port ? Number(url.port) : 443, isHttp: false }
}

export function describeDecision(decision: Decision, profile: Pick<Profile, 'upstreams' | 'groups'>): string {
  switch (decision.action) {
    case 'direct':
      return 'direct'
    case 'upstream': {
      const upstream = profile.upstreams.find((u) => u.id === decision.upstreamId)
      const group = upstream ? undefined : profile.groups?.find((g) => g.id === decision.upstreamId)
      if (group) return `via group "${group.name}" (${group.strategy})`
      return `via upstream "${upstream?.name ?? decision.upstreamId}"`
    }
    case 'block':
      return `block with ${decision.status}`
    case 'reject':
      return 'reject (close the connection)'
  }
}

/** Edits listed per direction before the rest is counted, so a long list stays one line. */
const LISTED_EDITS = 3

/**
 * What a deciding rule's header edits do to this target, e.g. `rewrites 2 request and 1 response
 * headers (request: set X-Env, remove Cookie; response: remove Set-Cookie)`, or null when it has none
 * or they cannot apply. Edits change forwarded HTTP messages only: a CONNECT tunnel's bytes are
 * encrypted end to end unless the rule intercepts it, and a blocked or rejected request is never
 * forwarded.
 */
function describeRewrite(
  rewrite: Rewrite | undefined,
  target: RouteTarget,
  decision: Decision,
  intercepts: boolean
): string | null {
  const directions = (['request', 'response'] as const)
    .map((direction) => ({ direction, edits: rewrite?.[direction] ?? [] }))
    .filter(({ edits }) => edits.length > 0)
  const total = directions.reduce((sum, { edits }) => sum + edits.length, 0)
  if (total === 0 || decision.action === 'block' || decision.action === 'reject') return null
  if (!target.isHttp && !intercepts)
    return `its ${total} header ${total === 1 ? 'edit does' : 'edits do'} not apply to CONNECT tunnels it does not intercept`
  const counts = directions.map(({ direction, edits }) => `${edits.length} ${direction}`)
  const lists = directions.map(({ direction, edits }) => {
    const shown = edits.slice(0, LISTED_EDITS).map((edit) => `${edit.op} ${edit.name}`)
    if (edits.length > LISTED_EDITS) shown.push(`${edits.length - LISTED_EDITS} more`)
    return `${direction}: ${shown.join(', ')}`
  })
  return `rewrites ${counts.join(' and ')} ${total === 1 ? 'header' : 'headers'} (${lists.join('; ')})`
}

/**
 * What the active profile does with `url`; for a plain `http://` URL, rules with request matchers see
 * `method` and the URL's path (no headers).
 */
export function explain(
  profile: Profile,
  url: string,
  compiled: CompiledRules = compileProfile(profile),
  method = 'GET'
): Explanation {
  const target = parseTarget(url)
  const request = target.isHttp ? { method: method.toUpperCase(), path: pathOf(url), headers: {} } : undefined
  const { decision, rule, index } = compiled.match(request ? { ...target, request } : target)
  const outcome = describeDecision(decision, profile)
  if (!rule) return { target, decision, rule: null, text: `no rule matched → default: ${outcome}` }
  const label = rule.rule.name ? `"${rule.rule.name}"` : `"${rule.rule.id}"`
  const matchers = rule.rule.matchers.map(explainMatcher).join(' and ')
  const intercepts = rule.rule.intercept === true && !target.isHttp && forwards(decision)
  const rewrite = describeRewrite(rule.rule.rewrite, target, decision, intercepts)
  const mock = rule.rule.respondWith
  const mocks = mock !== undefined && forwards(decision) && (target.isHttp || intercepts)
  const bodyEdits = rule.rule.rewrite?.responseBody?.length ?? 0
  const editsBodies = bodyEdits > 0 && !mocks && forwards(decision) && (target.isHttp || intercepts)
  const parts = [
    ...(intercepts ? ['intercepts HTTPS (TLS opened with the local CA)'] : []),
    ...(mocks ? [`answers ${mock.status} itself (the target is not contacted)`] : []),
    ...(rewrite && !mocks ? [rewrite] : []),
    ...(editsBodies
      ? [`edits text response bodies (${bodyEdits} ${bodyEdits === 1 ? 'edit' : 'edits'})`]
      : [])
  ]
  return {
    target,
    decision,
    rule: { id: rule.rule.id, ...(rule.rule.name ? { name: rule.rule.name } : {}), index },
    text: `rule ${label} #${index + 1} (${matchers}) → ${outcome}${parts.map((p) => `; ${p}`).join('')}`
  }
}

function forwards(decision: Decision): boolean {
  return decision.action === 'direct' || decision.action === 'upstream'
}

function pathOf(url: string): string {
  const parsed = new URL(url.trim())
  return `${parsed.pathname}${parsed.search}`
}
