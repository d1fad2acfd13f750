import { describe, expect, it } from 'vitest'
import { parseProfile } from '../../../main/rules/validate.ts'

const base = {
  id: 'work',
  name: 'Work',
  upstreams: [{ id: 'corp', name: 'Corp', scheme: 'http', host: '10.0.0.1', port: 3128 }],
  rules: [] as unknown[],
  defaultAction: { type: 'direct' }
}

describe('parseProfile', () => {
  it('accepts a valid profile', () => {
    const result = parseProfile({
      ...base,
      rules: [
        {
          id: 'r1',
          enabled: true,
          matchers: [{ type: 'domain', value: 'x.com' }],
          action: { type: 'upstream', upstreamId: 'corp' }
        }
      ]
    })
    expect(result.ok).toBe(true)
  })

  it('names the rule and field of an invalid regex', () => {
    const result = parseProfile({
      ...base,
      rules: [
        { id: 'ok', enabled: true, matchers: [{ type: 'host', value: 'a.com' }], action: { type: 'direct' } },
        {
          id: 'r2',
          name: 'Trackers',
          enabled: true,
          matchers: [{ type: 'regex', value: '(unclosed' }],
          action: { type: 'direct' }
        }
      ]
    })
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.error.message).toMatch(
      /^Profile "Work" is invalid: rule "Trackers" \(#2\), matcher #1 \(regex\): not a usable regular expression \(missing closing \): `\(unclosed`\)/
    )
  })

  it('refuses regex syntax that needs backtracking and says why', () => {
    const message = (value: string) => {
      const result = parseProfile({
        ...base,
        rules: [{ id: 'r', enabled: true, matchers: [{ type: 'regex', value }], action: { type: 'direct' } }]
      })
      return result.ok ? null : result.error.message
    }
    expect(message('^(?!ads\\.)')).toMatch(/unsupported Perl syntax: `\(\?!`.*linear time: no lookarounds/)
    expect(message('^(a)\\1$')).toMatch(
      /invalid escape sequence: `\\1`.*no lookarounds \(\?=…\) or backreferences/
    )
    // Nested quantifiers are fine on RE2: they cannot blow up.
    expect(message('^(a+)+$')).toBeNull()
  })

  it('names the rule and field of an invalid CIDR', () => {
    const result = parseProfile({
      ...base,
      rules: [
        {
          id: 'lan',
          enabled: true,
          matchers: [{ type: 'ip', value: '10.0.0.0/33' }],
          action: { type: 'direct' }
        }
      ]
    })
    expect(!result.ok && result.error.details).toEqual([
      expect.stringMatching(
        /^rule "lan" \(#1\), matcher #1 \(ip\): "10\.0\.0\.0\/33" is not an IP address or CIDR block/
      )
    ])
  })

  it.each([
    [{ type: 'port', value: '70000' }, /matcher #1 \(port\): "70000": ports are 1–65535/],
    [{ type: 'port', value: '90-80' }, /range start is above its end/],
    [{ type: 'host', value: 'http://x.com' }, /is not a host name/],
    [{ type: 'nope', value: 'x' }, /rule "r" \(#1\), matcher #1, type: /]
  ])('rejects matcher %j', (matcher, message) => {
    const result = parseProfile({
      ...base,
      rules: [{ id: 'r', enabled: true, matchers: [matcher], action: { type: 'direct' } }]
    })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error.details?.join('\n')).toMatch(message)
  })

  it('rejects references to upstreams the profile does not have, duplicates and bad block statuses', () => {
    const result = parseProfile({
      ...base,
      upstreams: [...base.upstreams, { ...base.upstreams[0], name: 'Again' }],
      rules: [
        {
          id: 'a',
          enabled: true,
          matchers: [{ type: 'host', value: 'a.com' }],
          action: { type: 'upstream', upstreamId: 'gone' }
        },
        { id: 'a', enabled: true, matchers: [{ type: 'host', value: 'b.com' }], action: { type: 'direct' } }
      ],
      defaultAction: { type: 'upstream', upstreamId: 'missing' }
    })
    expect(!result.ok && result.error.details).toEqual([
      'upstream #2: id "corp" is used twice',
      'rule "a" (#1), action: no upstream or group with id "gone" in this profile',
      'rule "a" (#2): id "a" is used twice',
      'default action: no upstream or group with id "missing" in this profile'
    ])
    const badStatus = parseProfile({
      ...base,
      rules: [
        {
          id: 'b',
          enabled: true,
          matchers: [{ type: 'host', value: 'a.com' }],
          action: { type: 'block', status: 200, body: '' }
        }
      ]
    })
    expect(!badStatus.ok && badStatus.error.message).toMatch(
      /rule "b" \(#1\), action, status: must be a 4xx or 5xx status/
    )
  })

  it('accepts groups named by rules and checks their members, selection and ids', () => {
    const upstreams = [base.upstreams[0], { ...base.upstreams[0], id: 'home', name: 'Home' }]
    const rule = {
      id: 'r',
      enabled: true,
      matchers: [{ type: 'host', value: 'a.com' }],
      action: { type: 'upstream', upstreamId: 'both' }
    }
    const good = parseProfile({
      ...base,
      upstreams,
      groups: [{ id: 'both', name: 'Both', strategy: 'failover', members: ['corp', 'home'] }],
      rules: [rule],
      defaultAction: { type: 'upstream', upstreamId: 'both' }
    })
    expect(good.ok).toBe(true)
    const bad = parseProfile({
      ...base,
      upstreams,
      groups: [
        { id: 'both', name: 'Both', strategy: 'manual', members: ['corp', 'gone', 'corp'], selected: 'x' },
        { id: 'home', name: 'Clash', strategy: 'round-robin', members: ['home'] }
      ],
      rules: [rule]
    })
    expect(!bad.ok && bad.error.details).toEqual([
      'group #1 ("Both"), member #2: no upstream with id "gone" in this profile',
      'group #1 ("Both"), members: an upstream is listed twice',
      'group #1 ("Both"), selected: "x" is not a member of the group',
      'group #2 ("Clash"): id "home" is used twice (upstream and group ids must differ)'
    ])
    const empty = parseProfile({
      ...base,
      groups: [{ id: 'g', name: 'G', strategy: 'failover', members: [] }]
    })
    expect(!empty.ok && empty.error.message).toMatch(/group #1, members: needs at least one member/)
  })

  it('refuses chains that loop, are longer than 4 hops or name a missing upstream', () => {
    const hop = (id: string, via?: string): object => ({
      ...base.upstreams[0],
      id,
      name: id.toUpperCase(),
      ...(via ? { via } : {})
    })
    expect(
      parseProfile({ ...base, upstreams: [hop('a', 'b'), hop('b', 'c'), hop('c', 'd'), hop('d')] }).ok
    ).toBe(true)
    const long = parseProfile({
      ...base,
      upstreams: [hop('a', 'b'), hop('b', 'c'), hop('c', 'd'), hop('d', 'e'), hop('e')]
    })
    expect(!long.ok && long.error.details?.[0]).toBe(
      'upstream #1 ("A"), via: the chain has more than 4 hops (A → B → C → D → E …)'
    )
    const loop = parseProfile({ ...base, upstreams: [hop('a', 'b'), hop('b', 'a')] })
    expect(!loop.ok && loop.error.details?.[0]).toBe(
      'upstream #1 ("A"), via: the chain loops back (A → B → A)'
    )
    const self = parseProfile({ ...base, upstreams: [hop('a', 'a')] })
    expect(!self.ok && self.error.message).toMatch(/upstream #1 \("A"\), via: the chain loops back \(A → A\)/)
    const missing = parseProfile({ ...base, upstreams: [hop('a', 'nowhere')] })
    expect(!missing.ok && missing.error.message).toMatch(/via: no upstream with id "nowhere"/)
  })

  it('refuses a colon in an HTTP upstream username, which basic auth cannot carry', () => {
    const result = parseProfile({
      ...base,
      upstreams: [{ ...base.upstreams[0], username: 'a:b', password: 'x' }]
    })
    expect(!result.ok && result.error.message).toMatch(/upstream #1.*username.*":"/)
  })

  describe('header edits', () => {
    const withEdits = (rewrite: unknown): ReturnType<typeof parseProfile> =>
      parseProfile({
        ...base,
        rules: [
          {
            id: 'a',
            enabled: true,
            matchers: [{ type: 'host', value: 'a.com' }],
            action: { type: 'direct' }
          },
          {
            id: 'strip',
            name: 'Strip cookies',
            enabled: true,
            matchers: [{ type: 'domain', value: 'b.com' }],
            action: { type: 'direct' },
            rewrite
          }
        ]
      })
    const details = (result: ReturnType<typeof parseProfile>): string[] =>
      result.ok ? [] : (result.error.details ?? [])

    it('accepts set, append and remove in both directions', () => {
      const result = withEdits({
        request: [
          { op: 'set', name: 'X-Env', value: 'staging' },
          { op: 'append', name: 'Accept-Language', value: 'de;q=0.5\tcafé' },
          { op: 'remove', name: 'Cookie' }
        ],
        response: [{ op: 'remove', name: 'Set-Cookie' }]
      })
      expect(result.ok && result.value.rules[1]!.rewrite?.request?.map((e) => e.op)).toEqual([
        'set',
        'append',
        'remove'
      ])
    })

    it.each([
      ['a space', 'Bad Name', /must be a header name/],
      ['a colon', 'X-Env:', /must be a header name/],
      ['nothing', '', /^.*, name: must not be empty$/]
    ])('refuses a name with %s, naming the rule, direction, edit and field', (_, name, message) => {
      const result = withEdits({
        request: [
          { op: 'set', name: 'X-Ok', value: '1' },
          { op: 'set', name, value: '1' }
        ]
      })
      expect(details(result)).toEqual([
        expect.stringMatching(/^rule "Strip cookies" \(#2\), request header edit #2, name: /)
      ])
      expect(details(result)[0]).toMatch(message)
    })

    it.each(['Host', 'content-length', 'Transfer-Encoding', 'Connection', 'UPGRADE', 'Keep-Alive'])(
      'refuses to edit %s, which the proxy manages',
      (name) => {
        expect(withEdits({ response: [{ op: 'remove', name }] })).toMatchObject({
          ok: false,
          error: {
            message:
              'Profile "Work" is invalid: rule "Strip cookies" (#2), response header edit #1, name: cannot be ' +
              'edited: hop-by-hop headers, Host, Content-Length and Transfer-Encoding are managed by the proxy'
          }
        })
      }
    )

    it.each([
      ['CR/LF', 'a\r\nX-Injected: 1'],
      ['a lone LF', 'a\nb'],
      ['NUL', 'a\0b'],
      ['a character Node cannot send', 'price in €']
    ])('refuses a value with %s', (_, value) => {
      expect(details(withEdits({ request: [{ op: 'set', name: 'X-Note', value }] }))).toEqual([
        'rule "Strip cookies" (#2), request header edit #1, value: must not contain line breaks, control ' +
          'characters or characters beyond Latin-1'
      ])
    })

    it.each([
      ['set', undefined],
      ['append', undefined],
      ['set', '']
    ])('refuses %s without a value (%j)', (op, value) => {
      expect(details(withEdits({ response: [{ op, name: 'X-Frame-Options', value }] }))).toEqual([
        'rule "Strip cookies" (#2), response header edit #1, value: needs a value (only remove takes none)'
      ])
    })

    it('names the direction when a list is too long or not a list', () => {
      const many = Array.from({ length: 51 }, () => ({ op: 'remove', name: 'X-A' }))
      expect(details(withEdits({ request: many }))).toEqual([
        'rule "Strip cookies" (#2), request header edits: at most 50 edits'
      ])
      expect(details(withEdits({ response: 'none' }))[0]).toMatch(
        /^rule "Strip cookies" \(#2\), response header edits: /
      )
      expect(details(withEdits([]))[0]).toMatch(/^rule "Strip cookies" \(#2\), header edits: /)
    })

    it('checks response body edits: RE2 syntax when regex, and names the edit', () => {
      expect(details(withEdits({ responseBody: [{ find: '(a+)+$', replace: 'b', regex: true }] }))).toEqual(
        []
      )
      const [message] = details(withEdits({ responseBody: [{ find: 'x(', replace: 'y', regex: true }] }))
      expect(message).toMatch(
        /^rule "Strip cookies" \(#2\), response body edit #1, find: invalid regular expression: /
      )
      // Without `regex` the text is literal, so any text is fine.
      expect(details(withEdits({ responseBody: [{ find: 'x(', replace: 'y' }] }))).toEqual([])
      expect(details(withEdits({ responseBody: [{ find: '', replace: 'y' }] }))).toEqual([
        'rule "Strip cookies" (#2), response body edit #1, find: must not be empty'
      ])
    })
  })
})
