import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ImportSummary } from '../../../common/ipc-contract.ts'
import type { Profile } from '../../../common/model.ts'
import { explain } from '../../../main/rules/explain.ts'
import { parseProfile } from '../../../main/rules/validate.ts'
import { buildBackup } from '../../../main/transfer/backup.ts'
import { readImport, summaryLines, type ImportResult } from '../../../main/transfer/import-file.ts'
import { DEFAULT_SETTINGS } from '../../../common/model.ts'

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/import')
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8')

function read(text: string, fileName?: string, existing: string[] = []): ImportResult {
  const result = readImport(text, fileName, existing)
  if (!result.ok) throw new Error(result.error.message)
  return result.value
}

const byName = (result: ImportResult, name: string): Profile => {
  const profile = result.profiles.find((p) => p.name === name)
  if (!profile) throw new Error(`no profile "${name}" in ${result.profiles.map((p) => p.name).join(', ')}`)
  return profile
}

const skippedKinds = (summary: ImportSummary) =>
  Object.fromEntries(summary.skipped.map((s) => [s.what, s.count]))

/** Where the profile sends `url`: `direct`, `block`, `reject` or the upstream's name. */
function routeOf(profile: Profile, url: string): string {
  const { decision } = explain(profile, url)
  if (decision.action !== 'upstream') return decision.action
  const target =
    profile.upstreams.find((u) => u.id === decision.upstreamId) ??
    profile.groups?.find((g) => g.id === decision.upstreamId)
  return target?.name ?? `?${decision.upstreamId}`
}

describe('import: SwitchyOmega / ZeroOmega backup', () => {
  const result = read(fixture('switchyomega.bak'), 'switchyomega.bak')

  it('is detected and gives one valid profile per fixed and switch profile, with new ids', () => {
    expect(result.format).toBe('switchyomega')
    expect(result.profiles.map((p) => p.name).sort()).toEqual(['Home socks', 'Office squid', 'auto switch'])
    for (const profile of result.profiles) {
      expect(parseProfile(profile).ok).toBe(true)
      expect(profile.id).toMatch(/^[a-z0-9-]+-[0-9a-f]{8}$/)
    }
  })

  it('keeps the proxy, its login and the bypass list of a fixed profile', () => {
    const office = byName(result, 'Office squid')
    expect(office.upstreams).toEqual([
      expect.objectContaining({
        scheme: 'http',
        host: '127.0.0.1',
        port: 3128,
        username: 'team',
        password: 'fixture-pass'
      })
    ])
    expect(routeOf(office, 'http://10.1.2.3/')).toBe('direct')
    expect(routeOf(office, 'https://a.corp.test/')).toBe('direct')
    expect(routeOf(office, 'http://127.0.0.1:8080/')).toBe('direct')
    expect(routeOf(office, 'http://localhost:8080/')).toBe('Office squid')
    expect(routeOf(office, 'https://example.com/')).toBe('Office squid')
    // SOCKS5 in Chrome sends names to the proxy.
    expect(byName(result, 'Home socks').upstreams[0]!.scheme).toBe('socks5h')
  })

  it('turns switch rules into rules in order, with SwitchyOmega’s wildcard meaning', () => {
    const auto = byName(result, 'auto switch')
    expect(routeOf(auto, 'https://internal.test/')).toBe('direct')
    expect(routeOf(auto, 'https://a.b.internal.test/')).toBe('direct')
    expect(routeOf(auto, 'http://localhost:1234/')).toBe('Office squid')
    expect(routeOf(auto, 'http://127.0.0.1:1234/')).toBe('Home socks')
    // "Home socks" bypasses 127.0.0.1:9: SwitchyOmega sends that direct even when a rule chose the proxy.
    expect(routeOf(auto, 'http://127.0.0.1:9/')).toBe('direct')
    expect(routeOf(auto, 'https://img.corp.test/')).toBe('direct')
    expect(routeOf(auto, 'https://ads42.example.com/')).toBe('Office squid')
    expect(routeOf(auto, 'https://img.cdn.test/')).toBe('Office squid')
    // Through the virtual profile "Current", which points at "Office squid".
    expect(routeOf(auto, 'https://virtual.test/')).toBe('Office squid')
    expect(routeOf(auto, 'https://elsewhere.test/')).toBe('direct')
  })

  it('lists what it could not represent, with counts and examples', () => {
    const kinds = skippedKinds(result.summary)
    expect(kinds).toMatchObject({
      'PAC-script profiles': 1,
      'rule-list profiles (AutoProxy/Switchy lists)': 1,
      'URL conditions (Junction matches hosts, not paths of HTTPS URLs)': 2,
      TimeConditions: 1
    })
    const regex = result.summary.skipped.find((s) => s.what.includes('RE2'))
    expect(regex?.examples[0]).toContain('(?!www')
    expect(result.summary.skipped.find((s) => s.what.startsWith('rules whose result'))?.examples).toEqual([
      'HostWildcardCondition: *.pac.test → Work PAC'
    ])
  })
})

describe('import: SwitchyOmega bypass lists', () => {
  const doc = (bypass: string[]) =>
    JSON.stringify({
      '+p': {
        profileType: 'FixedProfile',
        fallbackProxy: { scheme: 'http', host: '127.0.0.1', port: 3128 },
        bypassList: bypass.map((pattern) => ({ conditionType: 'BypassCondition', pattern }))
      },
      '+s': {
        profileType: 'SwitchProfile',
        defaultProfileName: 'p',
        rules: [
          {
            condition: { conditionType: 'HostWildcardCondition', pattern: '*.example.test' },
            profileName: 'p'
          }
        ]
      }
    })

  it('reads <local>, .domain, host:port and CIDR entries', () => {
    const fixed = byName(read(doc(['<local>', '.lan.test', 'printer.test:631', '192.168.0.0/16'])), 'p')
    expect(fixed.rules.map((r) => r.matchers)).toEqual([
      [{ type: 'host', value: 'localhost' }],
      [{ type: 'ip', value: '127.0.0.1' }],
      [{ type: 'ip', value: '::1' }],
      [{ type: 'wildcard', value: '*.lan.test' }],
      [
        { type: 'host', value: 'printer.test' },
        { type: 'port', value: '631' }
      ],
      [{ type: 'ip', value: '192.168.0.0/16' }]
    ])
  })

  it('applies the bypass list of the profile a switch rule or its default chose, and adds no impossible rules', () => {
    const sw = byName(read(doc(['<local>', 'www.example.test'])), 's')
    expect(routeOf(sw, 'https://www.example.test/')).toBe('direct')
    expect(routeOf(sw, 'https://api.example.test/')).toBe('p')
    expect(routeOf(sw, 'http://localhost/')).toBe('direct')
    expect(routeOf(sw, 'https://elsewhere.test/')).toBe('p')
    // `*.example.test` and an IP or `localhost` cannot both match: no rule is made of them.
    expect(sw.rules.map((r) => r.matchers.map((m) => m.value).join(' & '))).toEqual([
      'example.test & www.example.test',
      'example.test',
      'localhost',
      '127.0.0.1',
      '::1',
      'www.example.test'
    ])
  })
})

describe('import: FoxyProxy 8 export', () => {
  const result = read(fixture('foxyproxy.json'))
  const profile = result.profiles[0]!

  it('makes one profile of the active proxies and their patterns, in order', () => {
    expect(result.format).toBe('foxyproxy')
    expect(result.profiles).toHaveLength(1)
    expect(routeOf(profile, 'https://x.private.example.com/')).toBe('direct')
    expect(profile.upstreams.map((u) => [u.name, u.scheme, u.port])).toEqual([
      ['Team squid', 'http', 3128],
      ['Team socks', 'socks5h', 1080]
    ])
    expect(routeOf(profile, 'http://localhost:81/')).toBe('Team squid')
    expect(routeOf(profile, 'https://example.com/')).toBe('Team squid')
    expect(routeOf(profile, 'https://www.example.com/')).toBe('Team squid')
    expect(routeOf(profile, 'https://cdn12.test/')).toBe('Team squid')
    expect(routeOf(profile, 'http://127.0.0.1:9000/')).toBe('Team socks')
    expect(routeOf(profile, 'https://x.internal.test/')).toBe('direct')
    expect(routeOf(profile, 'https://www.bank.test/')).toBe('direct')
    expect(routeOf(profile, 'https://other.test/')).toBe('direct')
  })

  it('keeps name resolution local for a SOCKS5 proxy with "proxyDNS" off', () => {
    const doc = JSON.parse(fixture('foxyproxy.json')) as { data: Array<Record<string, unknown>> }
    doc.data[2]!.proxyDNS = false
    const socks = read(JSON.stringify(doc)).profiles[0]!.upstreams.find((u) => u.name === 'Team socks')
    expect(socks?.scheme).toBe('socks5')
  })

  it('reports the PAC proxy, the switched-off proxy and the URL-path pattern, and the exclude difference', () => {
    expect(skippedKinds(result.summary)).toEqual({
      'patterns about URL paths, schemes or ports (Junction matches hosts)': 1,
      'PAC-script proxies': 1,
      'proxies switched off in FoxyProxy': 1
    })
    expect(result.summary.notes.join(' ')).toContain('"Team squid": its exclude patterns')
  })
})

describe('import: Clash / mihomo YAML', () => {
  const result = read(fixture('clash.yaml'), 'clash.yaml')
  const profile = result.profiles[0]!

  it('keeps http and socks5 proxies and maps the group types', () => {
    expect(result.format).toBe('clash')
    expect(profile.upstreams.map((u) => [u.name, u.scheme])).toEqual([
      ['team-squid', 'http'],
      ['team-socks', 'socks5h'],
      ['Chain', 'socks5h']
    ])
    expect(profile.groups?.map((g) => [g.name, g.strategy, g.members])).toEqual([
      ['Proxy', 'manual', ['team-squid', 'team-socks']],
      ['Auto', 'lowest-latency', ['team-squid', 'team-socks']],
      ['Fallback', 'failover', ['team-socks', 'team-squid']],
      ['Balance', 'round-robin', ['team-squid', 'team-socks']]
    ])
    expect(profile.defaultAction).toEqual({ type: 'upstream', upstreamId: 'fallback' })
  })

  it('turns a relay group into a chain: a copy of its last proxy reached via the one before', () => {
    const chain = profile.upstreams.find((u) => u.name === 'Chain')
    const squid = profile.upstreams.find((u) => u.name === 'team-squid')
    expect(chain).toMatchObject({ scheme: 'socks5h', port: 1080, via: squid!.id, password: 'fixture-pass' })
    // The original stays direct for rules that name it.
    expect(profile.upstreams.find((u) => u.name === 'team-socks')?.via).toBeUndefined()
    expect(routeOf(profile, 'https://a.chain.test/')).toBe('Chain')
  })

  it('maps the rules in order to matchers and actions', () => {
    expect(routeOf(profile, 'http://localhost:80/')).toBe('team-squid')
    expect(explain(profile, 'https://x.ads.test/').decision).toMatchObject({ action: 'block', status: 403 })
    expect(routeOf(profile, 'https://my-tracker.test/')).toBe('block')
    expect(routeOf(profile, 'https://cdn7.example.com/')).toBe('Proxy')
    expect(routeOf(profile, 'http://127.0.0.1:8080/')).toBe('team-socks')
    expect(routeOf(profile, 'http://[::1]:8080/')).toBe('direct')
    expect(routeOf(profile, 'https://secure.test:8443/')).toBe('Auto')
    expect(routeOf(profile, 'https://a.balance.test/')).toBe('Balance')
    expect(routeOf(profile, 'https://anything.test/')).toBe('Fallback')
  })

  it('lists the proxies, groups and rules it could not represent', () => {
    expect(skippedKinds(result.summary)).toMatchObject({
      'proxies of type ss': 1,
      'proxies of type vmess': 1,
      'proxies of type trojan': 1,
      'relay groups Junction cannot chain (at most 4 plain proxies)': 1,
      'proxy providers (proxy lists Clash downloads)': 1,
      'rules whose target was not imported': 1,
      'GEOIP rules': 1,
      'GEOSITE rules': 1,
      'RULE-SET rules': 1,
      'PROCESS-NAME rules': 1
    })
    expect(result.summary.skipped.find((s) => s.what.includes('RE2'))?.examples).toEqual([
      'DOMAIN-REGEX,^(?=.*bad).*\\.test$,REJECT'
    ])
    expect(result.summary.notes.some((n) => n.includes('IP-CIDR'))).toBe(true)
  })

  it('stops at MATCH, like Clash', () => {
    const after = read('rules:\n  - MATCH,DIRECT\n  - DOMAIN,a.test,REJECT\n')
    expect(after.profiles[0]!.rules).toEqual([])
  })

  it('keeps examples to three per kind and counts the rest', () => {
    const rules = Array.from({ length: 7 }, (_, i) => `  - GEOIP,C${i},DIRECT`).join('\n')
    const summary = read(`rules:\n${rules}\n`).summary
    expect(summary.skipped).toEqual([
      { what: 'GEOIP rules', count: 7, examples: ['GEOIP,C0,DIRECT', 'GEOIP,C1,DIRECT', 'GEOIP,C2,DIRECT'] }
    ])
  })
})

describe('import: Junction backup', () => {
  const original = read(fixture('clash.yaml'), 'clash.yaml').profiles[0]!

  it('reads its own backup back as new profiles, with or without passwords', () => {
    for (const includePasswords of [true, false]) {
      const text = buildBackup([original], DEFAULT_SETTINGS, includePasswords)
      const result = read(text)
      expect(result.format).toBe('junction')
      const copy = result.profiles[0]!
      expect(copy.id).not.toBe(original.id)
      expect(copy.rules).toEqual(original.rules)
      expect(copy.groups).toEqual(original.groups)
      expect(copy.upstreams[0]!.password).toBe(includePasswords ? 'fixture-pass' : undefined)
      expect(text.includes('fixture-pass')).toBe(includePasswords)
    }
  })

  it('renames profiles whose names are taken', () => {
    const text = buildBackup([original, { ...original, id: 'other' }], DEFAULT_SETTINGS, false)
    const result = read(text, undefined, [original.name])
    expect(result.profiles.map((p) => p.name)).toEqual([`${original.name} (2)`, `${original.name} (3)`])
    expect(result.summary.profiles.map((p) => p.name)).toEqual([
      `${original.name} (2)`,
      `${original.name} (3)`
    ])
  })
})

describe('import: summary for a terminal', () => {
  it('prints names and examples from the file on one line each', () => {
    const evil = 'x\n[junction] proxy listening on http://127.0.0.1:1'
    const summary = read(`rules:\n  - GEOIP,"${evil.replace('\n', '\\n')}",DIRECT\n`, 'c.yaml').summary
    const lines = summaryLines({ ...summary, profiles: [{ ...summary.profiles[0]!, name: evil }] })
    expect(lines.every((line) => !line.includes('\n'))).toBe(true)
    expect(lines).toContain(
      '  "x\\n[junction] proxy listening on http://127.0.0.1:1": 0 upstream(s), 0 group(s), 0 rule(s)'
    )
  })
})

describe('import: detection', () => {
  it.each([
    ['an empty object', '{}'],
    ['a JSON array', '[1, 2]'],
    ['plain text', 'hello there'],
    ['YAML without proxies or rules', 'port: 7890\n']
  ])('refuses %s with a message naming the formats it reads', (_label, text) => {
    const result = readImport(text, 'x.txt')
    expect(result.ok).toBe(false)
    if (!result.ok)
      expect(result.error.message).toMatch(/"x\.txt" is not a format .*SwitchyOmega.*FoxyProxy.*Clash/)
  })

  it('refuses deeply nested text before the YAML parser spends seconds on it', () => {
    // 1 MB of `[` kept the YAML parser busy for about 10 s on this machine; refused, it takes ~20 ms.
    const text = `rules: ${'['.repeat(1_000_000)}`
    const started = performance.now()
    const result = readImport(text, 'deep.yaml')
    expect(performance.now() - started).toBeLessThan(2000)
    expect(!result.ok && result.error.message).toBe(
      '"deep.yaml" nests brackets more than 100 levels deep; Junction does not read it'
    )
  })

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'takes a type named "%s" (an Object property) for an unknown type',
    (name) => {
      const clash = read(
        `proxies:\n  - {name: p, type: http, server: 127.0.0.1, port: 3128}\n  - {name: q, type: ${name}, server: 127.0.0.1, port: 1}\n` +
          `proxy-groups:\n  - {name: g, type: ${name}, proxies: [p]}\nrules:\n  - ${name.toUpperCase()},x,p\n  - DOMAIN,a.test,p\n`
      )
      expect(clash.profiles[0]!.rules).toHaveLength(1)
      expect(clash.summary.skipped.map((s) => s.what)).toEqual([
        `proxies of type ${name}`,
        `proxy groups of type ${name}`,
        // Rule types are letters, digits and "-": `__PROTO__` is not one.
        name === '__proto__' ? 'rules Junction cannot read' : `${name.toUpperCase()} rules`
      ])
      const foxy = read(
        JSON.stringify({
          mode: 'pattern',
          data: [{ type: name, hostname: '127.0.0.1', port: '1', title: 't' }]
        })
      )
      expect(foxy.summary.skipped[0]!.what).toBe(`proxies of type ${name}`)
    }
  )

  it('tells FoxyProxy 7 exports apart', () => {
    const result = readImport('{"foxyProxyVersion":"7.5.1","mode":"patterns"}')
    expect(!result.ok && result.error.message).toMatch(/FoxyProxy 7/)
  })

  it('reads a backup saved with a byte-order mark', () => {
    const text = `\uFEFF${buildBackup([], DEFAULT_SETTINGS, false)}`
    expect(read(text).format).toBe('junction')
  })
})
