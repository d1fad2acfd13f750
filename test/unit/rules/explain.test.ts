import { describe, expect, it } from 'vitest'
import type { Action, Profile, Rule } from '../../../common/model.ts'
import { explain, parseTarget } from '../../../main/rules/explain.ts'

const profile: Profile = {
  id: 'p',
  name: 'P',
  upstreams: [{ id: 'corp', name: 'Corp squid', scheme: 'http', host: '127.0.0.1', port: 3128 }],
  rules: [
    {
      id: 'ads',
      name: 'Ads',
      enabled: true,
      matchers: [{ type: 'domain', value: 'ads.test' }],
      action: { type: 'block', status: 403, body: 'Blocked' }
    },
    {
      id: 'intranet',
      enabled: true,
      matchers: [
        { type: 'wildcard', value: '*.corp.*' },
        { type: 'port', value: '443' }
      ],
      action: { type: 'upstream', upstreamId: 'corp' }
    }
  ],
  defaultAction: { type: 'direct' }
}

describe('explain', () => {
  it('parses URLs and host:port the way a browser sends them through a proxy', () => {
    expect(parseTarget('http://a.test/x')).toEqual({ hostname: 'a.test', port: 80, isHttp: true })
    expect(parseTarget('https://a.test:8443/')).toEqual({ hostname: 'a.test', port: 8443, isHttp: false })
    expect(parseTarget('a.test:22')).toEqual({ hostname: 'a.test', port: 22, isHttp: false })
    expect(() => parseTarget('ftp://a.test/')).toThrow(/Only http:\/\/ and https:\/\//)
  })

  it('names the rule that decided and what happens', () => {
    expect(explain(profile, 'http://x.ads.test/banner').text).toBe(
      'rule "Ads" #1 (domain ads.test and subdomains) → block with 403'
    )
    const viaCorp = explain(profile, 'https://wiki.corp.example')
    expect(viaCorp.rule).toEqual({ id: 'intranet', index: 1 })
    expect(viaCorp.text).toBe(
      'rule "intranet" #2 (host like *.corp.* and port 443) → via upstream "Corp squid"'
    )
    expect(explain(profile, 'http://wiki.corp.example').text).toBe('no rule matched → default: direct')
  })

  describe('header edits of the deciding rule', () => {
    const withEdits = (rewrite: Rule['rewrite'], action: Action = { type: 'direct' }): Profile => ({
      ...profile,
      rules: [
        {
          id: 'env',
          name: 'Staging',
          enabled: true,
          matchers: [{ type: 'host', value: 'app.test' }],
          action,
          rewrite
        }
      ]
    })

    it('counts them per direction and lists what they do', () => {
      const edited = withEdits({
        request: [
          { op: 'set', name: 'X-Env', value: 'staging' },
          { op: 'remove', name: 'Cookie' }
        ],
        response: [{ op: 'remove', name: 'Set-Cookie' }]
      })
      expect(explain(edited, 'http://app.test/').text).toBe(
        'rule "Staging" #1 (host app.test) → direct; rewrites 2 request and 1 response headers ' +
          '(request: set X-Env, remove Cookie; response: remove Set-Cookie)'
      )
      expect(
        explain(
          withEdits({ response: [{ op: 'append', name: 'Vary', value: 'Origin' }] }),
          'http://app.test/'
        ).text
      ).toBe('rule "Staging" #1 (host app.test) → direct; rewrites 1 response header (response: append Vary)')
    })

    it('keeps a long list to one line', () => {
      const names = ['A', 'B', 'C', 'D', 'E'].map((n) => ({ op: 'remove' as const, name: `X-${n}` }))
      expect(explain(withEdits({ request: names }), 'http://app.test/').text).toMatch(
        /rewrites 5 request headers \(request: remove X-A, remove X-B, remove X-C, 2 more\)$/
      )
    })

    it('says they do not apply to a CONNECT tunnel, and stays silent when nothing is forwarded', () => {
      const edited = withEdits({ request: [{ op: 'remove', name: 'Cookie' }] })
      expect(explain(edited, 'https://app.test/').text).toBe(
        'rule "Staging" #1 (host app.test) → direct; its 1 header edit does not apply to CONNECT tunnels it does not intercept'
      )
      const blocked = withEdits(edited.rules[0]!.rewrite, { type: 'block', status: 403, body: 'no' })
      expect(explain(blocked, 'http://app.test/').text).toBe(
        'rule "Staging" #1 (host app.test) → block with 403'
      )
      expect(explain(withEdits({ request: [] }), 'http://app.test/').text).toBe(
        'rule "Staging" #1 (host app.test) → direct'
      )
    })

    it('says when the rule intercepts HTTPS, and that its edits then apply to the tunnel', () => {
      const base = withEdits({ response: [{ op: 'set', name: 'X-Seen', value: '1' }] })
      const intercepting: Profile = { ...base, rules: [{ ...base.rules[0]!, intercept: true }] }
      expect(explain(intercepting, 'https://app.test/').text).toBe(
        'rule "Staging" #1 (host app.test) → direct; intercepts HTTPS (TLS opened with the local CA); ' +
          'rewrites 1 response header (response: set X-Seen)'
      )
      // Plain HTTP is read anyway: nothing to intercept.
      expect(explain(intercepting, 'http://app.test/').text).not.toContain('intercepts')
    })

    it('says when the rule answers itself, or edits response bodies', () => {
      const base = withEdits({ responseBody: [{ find: 'a', replace: 'b' }] })
      expect(explain(base, 'http://app.test/').text).toBe(
        'rule "Staging" #1 (host app.test) → direct; edits text response bodies (1 edit)'
      )
      const mocked: Profile = {
        ...base,
        rules: [{ ...base.rules[0]!, respondWith: { status: 503, body: 'down' } }]
      }
      expect(explain(mocked, 'http://app.test/').text).toBe(
        'rule "Staging" #1 (host app.test) → direct; answers 503 itself (the target is not contacted)'
      )
      // A tunnel it does not intercept is neither mocked nor edited.
      expect(explain(mocked, 'https://app.test/').text).toBe('rule "Staging" #1 (host app.test) → direct')
    })

    it('lets request matchers see the method and path of an http:// URL', () => {
      const guarded: Profile = {
        ...profile,
        rules: [
          {
            id: 'ro',
            name: 'Read only',
            enabled: true,
            matchers: [
              { type: 'path', value: '/api/' },
              { type: 'method', value: 'POST' }
            ],
            action: { type: 'block', status: 405, body: 'no' }
          }
        ]
      }
      expect(explain(guarded, 'http://app.test/api/x', undefined, 'post').text).toBe(
        'rule "Read only" #1 (path /api/… and method POST) → block with 405'
      )
      expect(explain(guarded, 'http://app.test/api/x').text).toMatch(/^no rule matched/)
    })
  })
})
