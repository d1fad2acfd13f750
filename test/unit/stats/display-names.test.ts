/**
 * Names shown in place of ids: a rule's name or what it does, upstream and profile names, and plain
 * words for what was deleted since; and the filter rule every traffic view follows.
 */
import { describe, expect, it } from 'vitest'
import { matchesShown } from '../../../common/display-text.ts'
import { DIRECT_PROFILE, type Profile } from '../../../common/model.ts'
import { createNameResolver, DELETED, historyName } from '../../../main/stats/display-names.ts'

const work = (): Profile => ({
  id: 'p-work',
  name: 'Work',
  upstreams: [{ id: 'u-squid', name: 'Squid', scheme: 'http', host: '127.0.0.1', port: 3128 }],
  rules: [
    {
      id: 'r-named',
      name: 'Origin via Squid',
      enabled: true,
      matchers: [{ type: 'ip', value: '127.0.0.1' }],
      action: { type: 'upstream', upstreamId: 'u-squid' }
    },
    {
      id: 'r-plain',
      enabled: true,
      matchers: [{ type: 'domain', value: 'example.com' }],
      action: { type: 'upstream', upstreamId: 'u-squid' }
    },
    {
      id: 'r-block',
      name: '  ',
      enabled: true,
      matchers: [
        { type: 'domain', value: 'ads.test' },
        { type: 'port', value: '80' }
      ],
      action: { type: 'block', status: 403, body: '' }
    }
  ],
  defaultAction: { type: 'direct' }
})

describe('createNameResolver', () => {
  it('names the profile, the rule (or says what it does) and the upstream', () => {
    const names = createNameResolver(() => [DIRECT_PROFILE, work()])
    expect(names('p-work', 'r-named', 'u-squid')).toEqual({
      profileName: 'Work',
      ruleName: 'Origin via Squid',
      routeName: 'Squid'
    })
    expect(names('p-work', 'r-plain', 'u-squid').ruleName).toBe('domain example.com and subdomains → Squid')
    // A blank name counts as none.
    expect(names('p-work', 'r-block', 'block')).toEqual({
      profileName: 'Work',
      ruleName: 'domain ads.test and subdomains and port 80 → block 403',
      routeName: 'block'
    })
    expect(names(DIRECT_PROFILE.id, null, 'direct')).toEqual({
      profileName: DIRECT_PROFILE.name,
      ruleName: 'default',
      routeName: 'direct'
    })
  })

  it('shows names as they are now, and says what was deleted instead of showing its id', () => {
    let profiles: Profile[] = [work()]
    const names = createNameResolver(() => profiles)
    expect(names('p-work', 'r-named', 'u-squid').ruleName).toBe('Origin via Squid')
    const renamed = work()
    renamed.rules[0]!.name = 'Local traffic'
    renamed.upstreams[0]!.name = 'Office Squid'
    renamed.rules.splice(1, 1)
    profiles = [renamed]
    expect(names('p-work', 'r-named', 'u-squid')).toEqual({
      profileName: 'Work',
      ruleName: 'Local traffic',
      routeName: 'Office Squid'
    })
    expect(names('p-work', 'r-plain', 'u-squid').ruleName).toBe(DELETED.rule)
    profiles = [{ ...renamed, id: 'p-home', name: 'Home' }]
    // The profile is gone; its upstream id still names the upstream where another profile has it.
    expect(names('p-work', 'r-named', 'u-squid')).toEqual({
      profileName: DELETED.profile,
      ruleName: DELETED.rule,
      routeName: 'Office Squid'
    })
    profiles = []
    expect(names('p-work', null, 'u-squid')).toEqual({
      profileName: '(deleted profile)',
      ruleName: 'default',
      routeName: '(deleted upstream)'
    })
  })

  it('names history rows by profile id or route label', () => {
    const profiles = [work()]
    expect(historyName(profiles, 'profile', 'p-work')).toBe('Work')
    expect(historyName(profiles, 'profile', 'p-gone')).toBe(DELETED.profile)
    expect(historyName(profiles, 'route', 'u-squid')).toBe('Squid')
    expect(historyName(profiles, 'route', 'direct')).toBe('direct')
    expect(historyName(profiles, 'route', 'u-gone')).toBe(DELETED.upstream)
  })
})

describe('matchesShown', () => {
  const shown = ['127.0.0.1:18701', 'CONNECT', 'Work', 'Origin via Squid', 'Squid', '200']
  it.each([
    ['', true],
    ['squid', true],
    ['CONNECT', true],
    ['127.0.0.1:18701', true],
    [':18701', true],
    ['  squid   connect ', true],
    ['200', true],
    ['squid http', false],
    ['18702', false]
  ])('%j → %s', (query, expected) => {
    expect(matchesShown(shown, query)).toBe(expected)
  })
})
