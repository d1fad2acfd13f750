/**
 * The PAC export, run by a real PAC interpreter (pac-resolver on QuickJS), must answer every URL of a
 * table as `explain()` decides it. The sandbox's DNS functions are replaced by ones that fail the
 * test: an exported PAC must never make a browser resolve a name.
 */
import { readFile } from 'node:fs/promises'
import { createPacResolver } from 'pac-resolver'
import { QuickJS } from 'quickjs-wasi'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Action, Decision, Profile } from '../../../common/model.ts'
import { explain } from '../../../main/rules/explain.ts'
import { buildProfilePac, PAC_BLOCKED, pacRoute } from '../../../main/transfer/export-pac.ts'

const PROFILE: Profile = {
  id: 'pac-test',
  name: 'PAC test',
  upstreams: [
    {
      id: 'squid',
      name: 'Squid',
      scheme: 'http',
      host: '127.0.0.1',
      port: 3128,
      username: 'u',
      password: 'p'
    },
    { id: 'socks', name: 'Socks', scheme: 'socks5h', host: '127.0.0.1', port: 1080 },
    { id: 'tls', name: 'TLS', scheme: 'https', host: '::1', port: 8443 }
  ],
  groups: [
    { id: 'both', name: 'Both', strategy: 'manual', members: ['squid', 'socks'], selected: 'socks' },
    { id: 'fo', name: 'Failover', strategy: 'failover', members: ['tls', 'squid'] }
  ],
  rules: [
    {
      id: 'r1',
      enabled: true,
      matchers: [{ type: 'host', value: 'Localhost' }],
      action: { type: 'upstream', upstreamId: 'squid' }
    },
    {
      id: 'r2',
      enabled: true,
      matchers: [{ type: 'domain', value: 'ads.test' }],
      action: { type: 'block', status: 403, body: 'no' }
    },
    {
      id: 'r3',
      enabled: true,
      matchers: [{ type: 'wildcard', value: '*.cdn?.test' }],
      action: { type: 'upstream', upstreamId: 'both' }
    },
    {
      id: 'r4',
      enabled: true,
      matchers: [{ type: 'regex', value: '^api[0-9]+\\.' }],
      action: { type: 'upstream', upstreamId: 'tls' }
    },
    // A path rule cannot be written in PAC; it comes before a rule that still decides its URLs.
    { id: 'r5', enabled: true, matchers: [{ type: 'path', value: '/admin' }], action: { type: 'reject' } },
    { id: 'r6', enabled: true, matchers: [{ type: 'ip', value: '10.0.0.0/8' }], action: { type: 'reject' } },
    {
      id: 'r7',
      enabled: true,
      matchers: [
        { type: 'ip', value: '127.0.0.1' },
        { type: 'port', value: '8000-8999,9443' }
      ],
      action: { type: 'upstream', upstreamId: 'socks' }
    },
    {
      id: 'r7b',
      enabled: true,
      matchers: [{ type: 'domain', value: 'fo.test' }],
      action: { type: 'upstream', upstreamId: 'fo' }
    },
    {
      id: 'r8',
      enabled: false,
      matchers: [{ type: 'host', value: 'disabled.test' }],
      action: { type: 'reject' }
    },
    {
      id: 'r9',
      enabled: true,
      matchers: [
        { type: 'protocol', value: 'http' },
        { type: 'domain', value: 'plain.test' }
      ],
      action: { type: 'upstream', upstreamId: 'squid' }
    }
  ],
  defaultAction: { type: 'direct' }
}

const URLS = [
  'http://localhost:8080/',
  'https://LOCALHOST/',
  'https://ads.test/',
  'https://x.y.ads.test/',
  'http://notads.test/',
  'https://img.cdn1.test/',
  'https://img.cdn12.test/',
  'https://api42.example.test/',
  'http://10.1.2.3/',
  'http://11.1.2.3/',
  'http://127.0.0.1:8500/',
  'https://127.0.0.1:9443/',
  'http://127.0.0.1:9000/',
  'http://127.0.0.2:8500/',
  'https://disabled.test/',
  'https://www.fo.test/',
  'http://www.plain.test/',
  'https://www.plain.test/',
  'http://[::1]:8080/',
  'https://example.test/'
]

const asAction = (d: Decision): Action =>
  d.action === 'upstream'
    ? { type: 'upstream', upstreamId: d.upstreamId }
    : d.action === 'block'
      ? { type: 'block', status: d.status, body: d.body }
      : { type: d.action }

let resolve: (url: string) => Promise<string>
const noDns = () => {
  throw new Error('the PAC asked DNS')
}

beforeAll(async () => {
  const wasm = await readFile(new URL(import.meta.resolve('quickjs-wasi/quickjs.wasm')))
  const vm = await QuickJS.create({ wasm })
  const find = createPacResolver(vm, buildProfilePac(PROFILE), {
    sandbox: { dnsResolve: noDns, isInNet: noDns, isResolvable: noDns, myIpAddress: noDns }
  })
  resolve = (url) => find(url)
})

describe('PAC export', () => {
  it.each(URLS)('answers %s as explain() decides', async (url) => {
    expect(await resolve(url)).toBe(pacRoute(asAction(explain(PROFILE, url).decision), PROFILE))
  })

  it('never matches an IP rule by resolving a name', async () => {
    // explain() and the PAC agree that a name is not an address, whatever it resolves to.
    expect(await resolve('http://ten.test/')).toBe('DIRECT')
  })

  it('gives the answers the table expects, not only agreeing ones', async () => {
    expect(await resolve('http://localhost:8080/')).toBe('PROXY 127.0.0.1:3128')
    expect(await resolve('https://ads.test/')).toBe(PAC_BLOCKED)
    // A manual group: its selected member only, as Junction uses it.
    expect(await resolve('https://img.cdn1.test/')).toBe('SOCKS5 127.0.0.1:1080')
    expect(await resolve('https://api42.example.test/')).toBe('HTTPS [::1]:8443')
    // A failover group: every member, in order; the browser tries the next when one fails.
    expect(await resolve('https://www.fo.test/')).toBe('HTTPS [::1]:8443; PROXY 127.0.0.1:3128')
    expect(await resolve('http://127.0.0.1:8500/')).toBe('SOCKS5 127.0.0.1:1080')
    expect(await resolve('http://127.0.0.1:9000/')).toBe('DIRECT')
    expect(await resolve('http://www.plain.test/')).toBe('PROXY 127.0.0.1:3128')
    expect(await resolve('https://www.plain.test/')).toBe('DIRECT')
  })

  it('says in a comment what it could not express', () => {
    const pac = buildProfilePac(PROFILE)
    expect(pac).toMatch(/rule "r5" #5: path \/admin… — not exported: a PAC file cannot see a request's path/)
    expect(pac).toMatch(/rule "r8" #9: .* — disabled/)
    expect(pac).toMatch(/carry no passwords: .*Squid/)
  })
})
