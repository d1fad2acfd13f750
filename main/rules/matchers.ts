/**
 * One entry per matcher type: how to test a target against it and how to describe it to a person.
 * Rules are data; this table and common/matcher-checks.ts (which values are usable) are the only
 * places that know what each matcher type means.
 */
import ipaddr from 'ipaddr.js'
import { normalizeHostValue, parseCidr, parsePorts, compileHostRegex } from '../../common/matcher-checks.ts'
import { compileGlob } from './glob.ts'
import type { Matcher, MatcherType, RouteTarget } from '../../common/model.ts'

export { normalizeHostValue, parseCidr, parsePorts }

/** A target prepared once per request: host lowercased, trailing dot and IPv6 brackets removed. */
export interface NormalizedTarget extends RouteTarget {
  /** Parsed address when the host is an IP literal (IPv4-mapped IPv6 becomes IPv4), else null. */
  ip: ipaddr.IPv4 | ipaddr.IPv6 | null
}

export function normalizeTarget(target: RouteTarget): NormalizedTarget {
  let host = target.hostname.toLowerCase()
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  if (host.endsWith('.')) host = host.slice(0, -1)
  return {
    hostname: host,
    port: target.port,
    isHttp: target.isHttp,
    ip: parseIpLiteral(host),
    ...(target.request ? { request: target.request } : {})
  }
}

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/**
 * Cheap shape checks first: most hosts are names. Dotted-quad IPv4, the common literal, is parsed
 * here directly; ipaddr's general parser cost several microseconds per request.
 */
function parseIpLiteral(host: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (host.length === 0) return null
  if (host.includes(':')) return ipaddr.IPv6.isValid(host) ? ipaddr.process(host) : null
  const last = host.charCodeAt(host.length - 1)
  if (last >= 48 && last <= 57) {
    const m = DOTTED_QUAD.exec(host)
    if (!m) return null
    const octets = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])]
    return octets.every((o) => o <= 255) ? new ipaddr.IPv4(octets) : null
  }
  return null
}

export type Predicate = (target: NormalizedTarget) => boolean

interface MatcherSpec {
  compile(value: string): Predicate
  explain(value: string): string
}

export const MATCHERS: Record<MatcherType, MatcherSpec> = {
  host: {
    compile(value) {
      const host = normalizeHostValue(value)
      return (t) => t.hostname === host
    },
    explain: (value) => `host ${normalizeHostValue(value)}`
  },
  domain: {
    compile(value) {
      const domain = normalizeHostValue(value).replace(/^\*?\./, '')
      const dotted = `.${domain}`
      return (t) => t.hostname === domain || t.hostname.endsWith(dotted)
    },
    explain: (value) => `domain ${normalizeHostValue(value).replace(/^\*?\./, '')} and subdomains`
  },
  wildcard: {
    // PAC shExpMatch semantics: `*` is any run of characters (dots included), `?` exactly one.
    compile(value) {
      const matches = compileGlob(normalizeHostValue(value), { question: true, ignoreCase: false })
      return (t) => matches(t.hostname)
    },
    explain: (value) => `host like ${normalizeHostValue(value)}`
  },
  regex: {
    compile(value) {
      const re = compileHostRegex(value)
      return (t) => re.test(t.hostname)
    },
    explain: (value) => `host matching /${value}/i`
  },
  ip: {
    compile(value) {
      const [network, bits] = parseCidr(value)
      return (t) => t.ip !== null && t.ip.kind() === network.kind() && t.ip.match(network, bits)
    },
    explain: (value) => `IP ${value.trim()}`
  },
  port: {
    compile(value) {
      const { singles, ranges } = parsePorts(value)
      return (t) => singles.includes(t.port) || ranges.some(([from, to]) => t.port >= from && t.port <= to)
    },
    explain: (value) => `port ${value.replace(/\s+/g, '')}`
  },
  protocol: {
    compile(value) {
      const wantHttp = value === 'http'
      return (t) => t.isHttp === wantHttp
    },
    explain: (value) => (value === 'http' ? 'plain HTTP' : 'CONNECT tunnel')
  },
  path: {
    compile(value) {
      if (!value.includes('*')) return (t) => t.request?.path.startsWith(value) === true
      const matches = compileGlob(value, { question: false, ignoreCase: false })
      return (t) => t.request !== undefined && matches(t.request.path)
    },
    explain: (value) => (value.includes('*') ? `path like ${value}` : `path ${value}…`)
  },
  method: {
    compile(value) {
      const methods = new Set(value.split(',').map((m) => m.trim().toUpperCase()))
      return (t) => t.request !== undefined && methods.has(t.request.method)
    },
    explain: (value) => `method ${value.replace(/\s+/g, '').toUpperCase()}`
  },
  header: {
    compile(value) {
      const colon = value.indexOf(':')
      const name = (colon === -1 ? value : value.slice(0, colon)).trim().toLowerCase()
      const matches =
        colon === -1
          ? null
          : compileGlob(value.slice(colon + 1).trim(), { question: false, ignoreCase: true })
      return (t) => {
        const present = t.request?.headers[name]
        if (present === undefined) return false
        if (matches === null) return true
        return (Array.isArray(present) ? present : [present]).some(matches)
      }
    },
    explain: (value) => (value.includes(':') ? `header ${value.trim()}` : `header ${value.trim()} present`)
  }
}

export function explainMatcher(matcher: Matcher): string {
  return MATCHERS[matcher.type].explain(matcher.value)
}
