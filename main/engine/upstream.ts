/**
 * Upstream proxies as proxy-chain wants them: one URL each, credentials percent-encoded so that
 * `@`, `:`, `/` and `%` in a password survive (proxy-chain decodes them again before use).
 */
import type { Upstream } from '../../common/model.ts'
import { hostPort } from './host.ts'

export function upstreamUrl(upstream: Upstream): string {
  const auth =
    upstream.username || upstream.password
      ? `${encodeURIComponent(upstream.username ?? '')}:${encodeURIComponent(upstream.password ?? '')}@`
      : ''
  return `${upstream.scheme}://${auth}${hostPort(upstream.host, upstream.port)}`
}

/** For logs and error pages: never shows a password, and says which upstream by name and address. */
export function describeUpstream(upstream: Upstream): string {
  return `upstream proxy "${upstream.name}" (${upstream.scheme}://${hostPort(upstream.host, upstream.port)})`
}

/** Replaces the password in any proxy URL with `***`; leaves other text untouched. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z0-9+.-]+:\/\/[^\s:/@]*:)[^\s@/]*@/gi, '$1***@')
}
