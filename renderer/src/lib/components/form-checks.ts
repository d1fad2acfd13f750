/**
 * Quick checks the forms run before saving. They mirror main/rules/matchers.ts closely enough to catch
 * typos as the user types; the server's validation on save stays authoritative.
 */
import type { z } from 'zod'
import type { Matcher } from '../../../../common/model.ts'

/** Ids the schemas accept: letters, digits, "-" and "_". */
export function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`
}

/** Zod issues keyed by their path joined with dots (e.g. `upstreams.0.host`); the first issue wins. */
export function issuesByPath(error: z.ZodError | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const issue of error?.issues ?? []) out[issue.path.join('.')] ??= issue.message
  return out
}

const LIST_NAMES: Record<string, string> = { upstreams: 'upstream', rules: 'rule', matchers: 'matcher' }

/** Zod issues in words, e.g. `upstream #1, host: must not be empty`, joined by "; ". */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const parts: string[] = []
      for (const key of issue.path) {
        const last = parts.length - 1
        if (typeof key === 'number' && last >= 0 && parts[last]! in LIST_NAMES)
          parts[last] = `${LIST_NAMES[parts[last]!]} #${key + 1}`
        else parts.push(String(key))
      }
      return parts.length ? `${parts.join(', ')}: ${issue.message}` : issue.message
    })
    .join('; ')
}

function checkPorts(value: string): string | null {
  for (const part of value.split(',').map((p) => p.trim())) {
    const m = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(part)
    if (!m) return `"${part}" is not a port or range (use 443, 80,8080 or 8000-8999)`
    const from = Number(m[1])
    const to = m[2] === undefined ? from : Number(m[2])
    if (from < 1 || from > 65535 || to > 65535) return `"${part}": ports are 1–65535`
    if (to < from) return `"${part}": range start is above its end`
  }
  return null
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/

// Rough on purpose: IPv6 has many spellings and the server parses it properly.
function checkIp(value: string): string | null {
  const [addr = '', bits, extra] = value.trim().split('/')
  const v6 = addr.includes(':')
  const addrOk = v6
    ? /^\[?[0-9a-f:.]+(%[\w.-]+)?\]?$/i.test(addr) && addr.split('::').length <= 2
    : IPV4.test(addr)
  const max = v6 ? 128 : 32
  const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max)
  if (!addrOk || !bitsOk || extra !== undefined)
    return `"${value}" is not an IP address or CIDR block (e.g. 10.0.0.0/8, ::1)`
  return null
}

function checkHost(value: string): string | null {
  return /[\s/:@?#*]/.test(value.trim())
    ? `"${value}" is not a host name (no scheme, port, path or wildcard)`
    : null
}

/** The semantic problem with a matcher's value, or null. Empty values are left to the schema. */
export function checkMatcher(matcher: Matcher): string | null {
  if (matcher.value.trim() === '') return null
  switch (matcher.type) {
    case 'host':
      return checkHost(matcher.value)
    case 'domain':
      return checkHost(matcher.value.replace(/^\*?\./, ''))
    case 'wildcard':
      return /[\s/:@]/.test(matcher.value)
        ? `"${matcher.value}" is not a host pattern (e.g. *.cdn.*.com)`
        : null
    case 'regex':
      try {
        new RegExp(matcher.value, 'i')
        return null
      } catch (error) {
        return `invalid regular expression: ${(error as Error).message}`
      }
    case 'ip':
      return checkIp(matcher.value)
    case 'port':
      return checkPorts(matcher.value)
    case 'protocol':
      return null
  }
}
