/**
 * One entry per matcher type: how to check its value, how to test a target against it and how to
 * describe it to a person. Rules are data; this table is the only place that knows what each
 * matcher type means.
 */
import ipaddr from 'ipaddr.js'
import type { Matcher, MatcherType, RouteTarget } from '../../common/model.ts'

/** A target prepared once per request: host lowercased, trailing dot and IPv6 brackets removed. */
export interface NormalizedTarget extends RouteTarget {
  /** Parsed address when the host is an IP literal (IPv4-mapped IPv6 becomes IPv4), else null. */
  ip: ipaddr.IPv4 | ipaddr.IPv6 | null
}

export function normalizeTarget(target: RouteTarget): NormalizedTarget {
  let host = target.hostname.toLowerCase()
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  if (host.endsWith('.')) host = host.slice(0, -1)
  return { hostname: host, port: target.port, isHttp: target.isHttp, ip: parseIpLiteral(host) }
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
  /** Returns an error message when the value is unusable, else null. */
  check(value: string): string | null
  compile(value: string): Predicate
  explain(value: string): string
}

/** Host names are compared lowercased and without a trailing dot, as DNS does. */
export function normalizeHostValue(value: string): string {
  const lower = value.trim().toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

function checkHostName(value: string): string | null {
  const host = normalizeHostValue(value)
  if (host.length === 0) return 'must not be empty'
  if (/[\s/:@?#*]/.test(host)) return `"${value}" is not a host name (no scheme, port, path or wildcard)`
  return null
}

/** PAC shExpMatch semantics: `*` is any run of characters (dots included), `?` exactly one. */
export function wildcardToRegExp(pattern: string): RegExp {
  const body = normalizeHostValue(pattern)
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('')
  return new RegExp(`^${body}$`)
}

export interface PortSet {
  singles: number[]
  ranges: Array<[number, number]>
}

/** Parses `443`, `80,8080` and `8000-8999`; throws with a readable message. */
export function parsePorts(value: string): PortSet {
  const set: PortSet = { singles: [], ranges: [] }
  for (const part of value.split(',').map((p) => p.trim())) {
    const m = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(part)
    if (!m) throw new Error(`"${part}" is not a port or range (use 443, 80,8080 or 8000-8999)`)
    const from = Number(m[1])
    const to = m[2] === undefined ? from : Number(m[2])
    if (from < 1 || to > 65535 || from > 65535) throw new Error(`"${part}": ports are 1–65535`)
    if (to < from) throw new Error(`"${part}": range start is above its end`)
    if (from === to) set.singles.push(from)
    else set.ranges.push([from, to])
  }
  return set
}

export function parseCidr(value: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  const text = value.trim()
  if (text.includes('/')) {
    const [addr, bits] = ipaddr.parseCIDR(text)
    return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
      ? [(addr as ipaddr.IPv6).toIPv4Address(), Math.max(0, bits - 96)]
      : [addr, bits]
  }
  const addr = ipaddr.process(text.replace(/^\[|\]$/g, ''))
  return [addr, addr.kind() === 'ipv4' ? 32 : 128]
}

function tryOrMessage(fn: () => unknown, prefix: string): string | null {
  try {
    fn()
    return null
  } catch (error) {
    return `${prefix}${(error as Error).message}`
  }
}

export const MATCHERS: Record<MatcherType, MatcherSpec> = {
  host: {
    check: checkHostName,
    compile(value) {
      const host = normalizeHostValue(value)
      return (t) => t.hostname === host
    },
    explain: (value) => `host ${normalizeHostValue(value)}`
  },
  domain: {
    check: (value) => checkHostName(value.replace(/^\*?\./, '')),
    compile(value) {
      const domain = normalizeHostValue(value).replace(/^\*?\./, '')
      const dotted = `.${domain}`
      return (t) => t.hostname === domain || t.hostname.endsWith(dotted)
    },
    explain: (value) => `domain ${normalizeHostValue(value).replace(/^\*?\./, '')} and subdomains`
  },
  wildcard: {
    check: (value) =>
      /[\s/:@]/.test(value) ? `"${value}" is not a host pattern (use e.g. *.cdn.*.com)` : null,
    compile(value) {
      const re = wildcardToRegExp(value)
      return (t) => re.test(t.hostname)
    },
    explain: (value) => `host like ${normalizeHostValue(value)}`
  },
  regex: {
    check: (value) => tryOrMessage(() => new RegExp(value, 'i'), 'invalid regular expression: '),
    compile(value) {
      const re = new RegExp(value, 'i')
      return (t) => re.test(t.hostname)
    },
    explain: (value) => `host matching /${value}/i`
  },
  ip: {
    check: (value) => tryOrMessage(() => parseCidr(value), `"${value}" is not an IP address or CIDR block: `),
    compile(value) {
      const [network, bits] = parseCidr(value)
      return (t) => t.ip !== null && t.ip.kind() === network.kind() && t.ip.match(network, bits)
    },
    explain: (value) => `IP ${value.trim()}`
  },
  port: {
    check: (value) => tryOrMessage(() => parsePorts(value), ''),
    compile(value) {
      const { singles, ranges } = parsePorts(value)
      return (t) => singles.includes(t.port) || ranges.some(([from, to]) => t.port >= from && t.port <= to)
    },
    explain: (value) => `port ${value.replace(/\s+/g, '')}`
  },
  protocol: {
    check: (value) => (value === 'http' || value === 'connect' ? null : 'must be "http" or "connect"'),
    compile(value) {
      const wantHttp = value === 'http'
      return (t) => t.isHttp === wantHttp
    },
    explain: (value) => (value === 'http' ? 'plain HTTP' : 'CONNECT tunnel')
  }
}

export function explainMatcher(matcher: Matcher): string {
  return MATCHERS[matcher.type].explain(matcher.value)
}
