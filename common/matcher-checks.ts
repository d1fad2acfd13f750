/**
 * What makes a matcher value usable, in one place for the engine (validation on save) and the UI
 * (messages while typing), so both say exactly the same thing. Pure: ipaddr.js and re2js only.
 */
import ipaddr from 'ipaddr.js'
import { RE2JS } from 're2js'
import type { Matcher } from './model.ts'

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

/**
 * A host regex, case-insensitive, on RE2 (re2js): matching takes time linear in the host name. A
 * backtracking RegExp such as `^(a+)+$` doubles its work with every extra character of a name any
 * web page can send, and would stall every connection while it runs. Throws on syntax RE2 lacks.
 */
export function compileHostRegex(value: string): RE2JS {
  return RE2JS.compile(value, RE2JS.CASE_INSENSITIVE)
}

function checkHostRegex(value: string): string | null {
  try {
    // Without the case flag, so the message quotes the user's own pattern.
    RE2JS.compile(value)
    return null
  } catch (error) {
    const detail = (error as Error).message.replace(/^error parsing regexp: /, '')
    return `not a usable regular expression (${detail}). Junction runs RE2 syntax, which matches in linear time: no lookarounds (?=…) or backreferences \\1`
  }
}

function tryOrMessage(fn: () => unknown, prefix: string): string | null {
  try {
    fn()
    return null
  } catch (error) {
    return `${prefix}${(error as Error).message}`
  }
}

/** The problem with a matcher's value in words, or null when the engine can use it. */
export function checkMatcherValue(matcher: Matcher): string | null {
  const { value } = matcher
  switch (matcher.type) {
    case 'host':
      return checkHostName(value)
    case 'domain':
      return checkHostName(value.replace(/^\*?\./, ''))
    case 'wildcard':
      return /[\s/:@]/.test(value) ? `"${value}" is not a host pattern (use e.g. *.cdn.*.com)` : null
    case 'regex':
      return checkHostRegex(value)
    case 'ip':
      return tryOrMessage(() => parseCidr(value), `"${value}" is not an IP address or CIDR block: `)
    case 'port':
      return tryOrMessage(() => parsePorts(value), '')
    case 'protocol':
      return value === 'http' || value === 'connect' ? null : 'must be "http" or "connect"'
    case 'path':
      return value.startsWith('/') || value.startsWith('*')
        ? null
        : 'must start with "/" (a prefix) or "*" (a pattern)'
    case 'method':
      return value.split(',').every((m) => /^[A-Za-z]+$/.test(m.trim()))
        ? null
        : 'must be request methods separated by commas, e.g. GET,HEAD'
    case 'header':
      return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*:.*)?$/.test(value)
        ? null
        : 'must be a header name, optionally followed by ": value pattern" (e.g. Accept: *json*)'
  }
}

const HOST_LABELS =
  /^\.?(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i

/**
 * The problem with one system-proxy bypass entry in words, or null when every platform's controller can
 * use it: a host name (`intranet`, `.corp.example`), a wildcard pattern (`*.local`, `10.*`), an IP
 * address, a CIDR block (`192.168.0.0/16`) or Windows' `<local>` (names without a dot).
 */
export function checkBypassEntry(value: string): string | null {
  const entry = value.trim()
  if (entry === '<local>') return null
  if (entry === '' || entry === '*') return `"${value}" would send every address past the proxy`
  if (/\s/.test(entry)) return `"${entry}" has a space: put one host, pattern or CIDR block on each line`
  if (entry.includes('://')) return `"${entry}" has a scheme: write only the host, e.g. example.com`
  if (/^[^:]+:\d+$/.test(entry)) return `"${entry}" has a port: bypass entries are hosts or addresses only`
  if (entry.includes('/'))
    return tryOrMessage(() => ipaddr.parseCIDR(entry), '') === null
      ? null
      : `"${entry}" is not a CIDR block (an address, "/" and a prefix length, e.g. 10.0.0.0/8 or fd00::/8)`
  if (entry.includes('*'))
    return /^[a-z0-9_.*-]+$/i.test(entry)
      ? null
      : `"${entry}" is not a host pattern (letters, digits, ".", "-" and "*", e.g. *.example.com)`
  if (/^[\d.]+$/.test(entry) || entry.includes(':'))
    return ipaddr.isValid(entry.replace(/^\[|\]$/g, '')) && !/^\d+$/.test(entry)
      ? null
      : `"${entry}" is not an IP address (e.g. 192.168.1.10 or ::1)`
  return HOST_LABELS.test(entry)
    ? null
    : `"${entry}" is not a host name (letters, digits and "-" between dots, no scheme, port or path)`
}
