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
      /^Profile "Work" is invalid: rule "Trackers" \(#2\), matcher #1 \(regex\): invalid regular expression: .*unterminated group/i
    )
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
      'rule "a" (#1), action: no upstream with id "gone" in this profile',
      'rule "a" (#2): id "a" is used twice',
      'default action: no upstream with id "missing" in this profile'
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

  it('refuses a colon in an HTTP upstream username, which basic auth cannot carry', () => {
    const result = parseProfile({
      ...base,
      upstreams: [{ ...base.upstreams[0], username: 'a:b', password: 'x' }]
    })
    expect(!result.ok && result.error.message).toMatch(/upstream #1.*username.*":"/)
  })
})
