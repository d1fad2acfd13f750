import { describe, expect, it } from 'vitest'
import type { Profile } from '../../../common/model.ts'
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
})
