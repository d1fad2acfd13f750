/**
 * The Squid export's text: one ACL per matcher, every access list in rule order, logins escaped as
 * Squid unescapes them, and a comment wherever Squid cannot follow the profile. (That Squid really
 * routes by it is test/integration/transfer.test.ts.)
 */
import { describe, expect, it } from 'vitest'
import type { Profile } from '../../../common/model.ts'
import { buildSquidConfig } from '../../../main/transfer/export-squid.ts'

const PROFILE: Profile = {
  id: 'team',
  name: 'Team',
  upstreams: [
    { id: 'a', name: 'A', scheme: 'http', host: '10.0.0.1', port: 3128, username: 'us er', password: 'p%:#' },
    { id: 'b', name: 'B', scheme: 'https', host: 'proxy.example.com', port: 443 },
    { id: 'c', name: 'C', scheme: 'http', host: '10.0.0.3', port: 3128, via: 'a' },
    { id: 's', name: 'S', scheme: 'socks5', host: '10.0.0.4', port: 1080 }
  ],
  groups: [{ id: 'rr', name: 'Spread', strategy: 'round-robin', members: ['a', 'b'] }],
  rules: [
    {
      id: 'r1',
      enabled: true,
      matchers: [{ type: 'wildcard', value: '*.cdn?.test' }],
      action: { type: 'upstream', upstreamId: 'rr' }
    },
    {
      id: 'r2',
      enabled: true,
      matchers: [{ type: 'regex', value: '^api\\d+\\.' }],
      action: { type: 'direct' }
    },
    {
      id: 'r3',
      enabled: true,
      matchers: [
        { type: 'method', value: 'post' },
        { type: 'path', value: '/upload' }
      ],
      action: { type: 'reject' }
    },
    { id: 'r4', enabled: true, matchers: [{ type: 'header', value: 'X-Debug' }], action: { type: 'direct' } },
    {
      id: 'r5',
      enabled: true,
      matchers: [{ type: 'host', value: 'chained.test' }],
      action: { type: 'upstream', upstreamId: 'c' }
    },
    {
      id: 'r6',
      enabled: true,
      matchers: [
        { type: 'ip', value: '192.168.0.0/16' },
        { type: 'port', value: '80,8000-8999' }
      ],
      action: { type: 'block', status: 451, body: '' }
    }
  ],
  defaultAction: { type: 'upstream', upstreamId: 'a' }
}

describe('Squid export', () => {
  const config = buildSquidConfig(PROFILE)
  const lines = config.split('\n')

  it('writes a parent per HTTP(S) upstream, login escaped, round-robin members marked', () => {
    expect(lines).toContain(
      'cache_peer 10.0.0.1 parent 3128 0 no-query no-digest no-netdb-exchange name=junction_a login=us%20er:p%25%3A%23 round-robin'
    )
    expect(lines).toContain(
      'cache_peer proxy.example.com parent 443 0 no-query no-digest no-netdb-exchange name=junction_b tls round-robin'
    )
    expect(config).toContain(
      '# upstream "C" not exported: Squid cannot reach a parent through another parent (a chain)'
    )
    expect(config).toContain('# upstream "S" not exported: Squid has no socks5 parents')
  })

  it('writes one ACL per matcher in Squid syntax', () => {
    expect(lines).toContain('acl junction_r1_1 dstdom_regex -n -i \\.cdn.\\.test$')
    expect(config).toMatch(
      /# rule "r2" #2: .* — not exported: its regular expression uses syntax POSIX regex \(Squid\) lacks/
    )
    expect(lines).toContain('acl junction_r3_1 method POST')
    expect(lines).toContain('acl junction_r3_2 urlpath_regex ^/upload')
    expect(config).toMatch(/# rule "r4" #4: .* — not exported: header matchers are not exported/)
    expect(config).toMatch(
      /# rule "r5" #5: .* — not exported: "C": Squid cannot reach a parent through another parent/
    )
    expect(lines).toContain('acl junction_r6_1 dst 192.168.0.0/16')
    expect(lines).toContain('acl junction_r6_2 port 80 8000-8999')
  })

  it('keeps the rules in order in every access list, blocks with their status or a reset', () => {
    const access = lines.filter((l) =>
      /^(http_access|deny_info|always_direct|never_direct|cache_peer_access)/.test(l)
    )
    expect(access).toEqual([
      'http_access allow junction_clients junction_r1_1',
      'http_access deny !junction_connect junction_r3_1 junction_r3_2',
      'deny_info TCP_RESET junction_r3_2',
      'http_access deny junction_r6_1 junction_r6_2',
      'deny_info 451:ERR_ACCESS_DENIED junction_r6_2',
      'http_access allow junction_clients',
      'http_access deny all',
      'always_direct deny junction_r1_1',
      'never_direct allow junction_r1_1',
      'never_direct allow all',
      'cache_peer_access junction_a allow junction_r1_1',
      'cache_peer_access junction_a allow all',
      'cache_peer_access junction_b allow junction_r1_1',
      'cache_peer_access junction_b deny all'
    ])
  })
})
