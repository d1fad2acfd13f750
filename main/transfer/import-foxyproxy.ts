/**
 * FoxyProxy 8 exports (Options → Export): `{ mode, data: [{ type, hostname, port, username, password,
 * include: [{ type: 'wildcard' | 'regex', pattern, active }], exclude: […] }], globalExcludeWildcard, … }`.
 * Reference: foxyproxy/browser-extension src/content/schema.json, pattern.js and pac.js.
 *
 * FoxyProxy tests each active proxy in order: not excluded and included → that proxy; nothing → DIRECT.
 * Patterns are case-insensitive regexes over the whole URL (wildcards are turned into one). Junction
 * matches hosts, so a pattern is imported when it says something only about the host.
 */
import type { Action, Matcher, Profile, UpstreamScheme } from '../../common/model.ts'
import type { SkipList } from './import-summary.ts'
import { isObject, lookup, ProfileBuilder, readHost, readPort, text } from './profile-builder.ts'

export function isFoxyProxy(doc: unknown): boolean {
  return (
    isObject(doc) &&
    Array.isArray(doc.data) &&
    doc.data.some((item) => isObject(item) && 'hostname' in item && 'type' in item)
  )
}

/** FoxyProxy 7 and older wrote a different file (`proxySettings`, numbered types). */
export function isOldFoxyProxy(doc: unknown): boolean {
  return isObject(doc) && ('foxyProxyVersion' in doc || 'proxySettings' in doc)
}

// FoxyProxy's SOCKS5 setting "proxyDNS" (on by default) sends names to the proxy: socks5h; off, socks5.
const SCHEMES: Record<string, UpstreamScheme> = {
  http: 'http',
  https: 'https',
  socks4: 'socks4',
  socks5: 'socks5h'
}

/**
 * The host a wildcard pattern is about, for `host`, `*.host`, `*://host`, `*://*.host/` and
 * `https://host/*`-style patterns whose rest is only `/` or `/*`; null when it says more.
 */
function wildcardMatcher(pattern: string): Matcher | null {
  const m = /^((?:\*|[a-z]+):\/\/)?([^/]+?)(?:\/\*?)?$/i.exec(pattern.trim())
  if (!m) return null
  const host = m[2]!
  if (host === '*') return { type: 'wildcard', value: '*' }
  if (host.includes(':')) return null
  // pattern.js turns `://*.` into `://(.*\.)?`: after a scheme, `*.example.com` matches example.com too.
  if (m[1] && host.startsWith('*.') && !/[*?]/.test(host.slice(2)))
    return { type: 'domain', value: host.slice(2) }
  return /[*?]/.test(host) ? { type: 'wildcard', value: host } : { type: 'host', value: host }
}

/**
 * A regex is imported as a host regex when it can only be about the host: no `/` or `:` (scheme,
 * port, path), and no `^` or `$`, which in FoxyProxy anchor at the URL's scheme and trailing slash.
 */
function regexMatcher(pattern: string): Matcher | null {
  return /[/:^$]/.test(pattern) ? null : { type: 'regex', value: pattern }
}

function patternMatcher(entry: Record<string, unknown>, skipped: SkipList): Matcher | null {
  const pattern = typeof entry.pattern === 'string' ? entry.pattern : ''
  const matcher = entry.type === 'regex' ? regexMatcher(pattern) : wildcardMatcher(pattern)
  if (!matcher)
    skipped.skip(
      'patterns about URL paths, schemes or ports (Junction matches hosts)',
      `${text(entry.type)}: ${pattern}`
    )
  return matcher
}

/**
 * Where an entry's include patterns send requests: its proxy as an upstream, or DIRECT for FoxyProxy's
 * `direct` type (used to keep some sites off a proxy matched later); null when it cannot be used.
 */
function foxyAction(
  item: Record<string, unknown>,
  title: string,
  builder: ProfileBuilder,
  skipped: SkipList
): Action | null {
  if (item.type === 'direct') return { type: 'direct' }
  const named = lookup(SCHEMES, item.type)
  const scheme = named === 'socks5h' && item.proxyDNS === false ? 'socks5' : named
  if (!scheme) {
    skipped.skip(item.type === 'pac' ? 'PAC-script proxies' : `proxies of type ${text(item.type)}`, title)
    return null
  }
  const host = readHost(item.hostname)
  const port = readPort(item.port)
  if (!host || !port) {
    skipped.skip('proxies without a usable address', title)
    return null
  }
  const upstreamId = builder.addUpstream({
    name: title,
    scheme,
    host,
    port,
    ...(typeof item.username === 'string' && item.username ? { username: item.username } : {}),
    ...(typeof item.password === 'string' && item.password ? { password: item.password } : {})
  })
  return upstreamId === null ? null : { type: 'upstream', upstreamId }
}

/** FoxyProxy keeps global excludes as one text field, a pattern per line. */
const lines = (value: unknown): string[] =>
  typeof value === 'string' ? value.split(/\n+/).filter((line) => line.trim()) : []

export function importFoxyProxy(doc: Record<string, unknown>, skipped: SkipList): Profile[] {
  const builder = new ProfileBuilder('FoxyProxy', skipped)
  const items = (doc.data as unknown[]).filter(isObject)
  const globalExcludes = [
    ...lines(doc.globalExcludeWildcard).map((pattern) => ({ type: 'wildcard', pattern })),
    ...lines(doc.globalExcludeRegex).map((pattern) => ({ type: 'regex', pattern }))
  ]
  for (const entry of globalExcludes) {
    const matcher = patternMatcher(entry, skipped)
    if (matcher)
      builder.addRule([matcher], { type: 'direct' }, `global exclude: ${entry.pattern}`, 'Global exclude')
  }
  const patterned = items.filter((item) => item.active !== false)
  for (const [index, item] of patterned.entries()) {
    const title =
      typeof item.title === 'string' && item.title ? item.title : `${text(item.hostname)}:${text(item.port)}`
    const action = foxyAction(item, title, builder, skipped)
    if (action === null) continue
    const active = (list: unknown) =>
      Array.isArray(list) ? list.filter(isObject).filter((p) => p.active !== false) : []
    const excludes = active(item.exclude)
    // In FoxyProxy an excluded URL falls through to the next proxy; Junction's first match sends it direct.
    if (excludes.length > 0 && index < patterned.length - 1)
      skipped.note(
        `"${title}": its exclude patterns send matching requests direct; FoxyProxy would try the proxies after it`
      )
    for (const entry of excludes) {
      const matcher = patternMatcher(entry, skipped)
      if (matcher)
        builder.addRule([matcher], { type: 'direct' }, `exclude: ${text(entry.pattern)}`, `${title}: exclude`)
    }
    for (const entry of active(item.include)) {
      const matcher = patternMatcher(entry, skipped)
      if (matcher)
        builder.addRule(
          [matcher],
          action,
          `include: ${text(entry.pattern)}`,
          `${title}: ${text(entry.title || entry.pattern)}`
        )
    }
  }
  for (const item of items.filter((item) => item.active === false))
    skipped.skip('proxies switched off in FoxyProxy', text(item.title || item.hostname))
  builder.setDefault({ type: 'direct' })
  return [builder.build()]
}
