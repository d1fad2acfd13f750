/**
 * Pasted rules (common/rule-lines.ts): each line becomes a rule the schema accepts, or one message a
 * person can act on, numbered by the line it is about.
 */
import { describe, expect, it } from 'vitest'
import { RuleSchema, type Action, type Matcher, type Profile, type Rule } from '../../../common/model.ts'
import { parseRuleLines, ruleLine } from '../../../common/rule-lines.ts'
import { blockAt, placeAt } from '../../../common/rule-order.ts'

const PROFILE: Profile = {
  id: 'work',
  name: 'Work',
  upstreams: [{ id: 'u-1', name: 'Squid', scheme: 'http', host: '127.0.0.1', port: 3128 }],
  groups: [{ id: 'g-1', name: 'Home Pool', strategy: 'failover', members: ['u-1'] }],
  rules: [],
  defaultAction: { type: 'direct' }
}

function parse(text: string, profile: Profile = PROFILE) {
  let n = 0
  return parseRuleLines(text, profile, () => `r${++n}`)
}

describe('parseRuleLines', () => {
  it('reads the examples of the README into valid rules', () => {
    const lines = parse(
      [
        'domain example.com block   # ads',
        'host a.b direct',
        'regex ^ads\\. block 451',
        '',
        '# a comment',
        'ip 10.0.0.0/8 upstream Squid',
        'domain x.com and port 443 → home pool',
        'port 8000-8999 reject',
        'wildcard *.cdn.*.com via g-1'
      ].join('\n')
    )
    expect(lines.map((l) => l.error)).toEqual(Array(7).fill(undefined))
    expect(lines.map((l) => l.line)).toEqual([1, 2, 3, 6, 7, 8, 9])
    for (const { rule } of lines) expect(RuleSchema.safeParse(rule).success).toBe(true)
    expect(lines[0]!.rule).toEqual({
      id: 'r1',
      enabled: true,
      matchers: [{ type: 'domain', value: 'example.com' }],
      action: { type: 'block', status: 403, body: 'Blocked by Junction' }
    })
    expect(lines[2]!.rule!.action).toMatchObject({ type: 'block', status: 451 })
    expect(lines[3]!.rule!.action).toEqual({ type: 'upstream', upstreamId: 'u-1' })
    expect(lines[4]!.rule).toMatchObject({
      matchers: [
        { type: 'domain', value: 'x.com' },
        { type: 'port', value: '443' }
      ],
      action: { type: 'upstream', upstreamId: 'g-1' }
    })
    expect(lines[6]!.rule!.action).toEqual({ type: 'upstream', upstreamId: 'g-1' })
  })

  it('reads Clash rules', () => {
    const lines = parse(
      'DOMAIN-SUFFIX,google.com,Squid\nDOMAIN-KEYWORD,ads,REJECT\nIP-CIDR,192.168.0.0/16,DIRECT,no-resolve'
    )
    expect(lines.map((l) => l.rule?.matchers[0])).toEqual([
      { type: 'domain', value: 'google.com' },
      { type: 'wildcard', value: '*ads*' },
      { type: 'ip', value: '192.168.0.0/16' }
    ])
    expect(lines.map((l) => l.rule?.action.type)).toEqual(['upstream', 'reject', 'direct'])
    expect(parse('GEOIP,CN,DIRECT')[0]!.error).toMatch(/^Line 1: Clash rule type "GEOIP" has no match here/)
  })

  it('says what is wrong with each line, in words', () => {
    const errors = parse(
      [
        'domian example.com block',
        'domain',
        'domain example.com',
        'domain example.com blok',
        'ip 300.1.1.1 direct',
        'domain example.com upstream Squidd',
        'domain example.com block 200',
        'domain example.com direct please',
        'protocol ftp direct',
        'regex (unclosed block'
      ].join('\n')
    ).map((l) => l.error)
    expect(errors).toEqual([
      'Line 1: "domian" is not a kind of match; start the line with domain, host, wildcard, regex, ip, port, protocol, path, method or header.',
      'Line 2: "domain" needs a value, e.g. "domain example.com block".',
      'Line 3: it says what to match but not what to do; end it with direct, block, block 451, reject or upstream <name>.',
      'Line 4: "blok" is not an action; use direct, block, block 451, reject or upstream <name>.',
      expect.stringMatching(/^Line 5: ip "300\.1\.1\.1": "300\.1\.1\.1" is not an IP address or CIDR block/),
      'Line 6: this profile has no upstream or group named "Squidd" (it has Squid, Home Pool).',
      'Line 7: after "block" comes nothing or a status from 400 to 589, not "200".',
      'Line 8: nothing may follow "direct" (found "please").',
      'Line 9: protocol "ftp": must be "http" or "connect".',
      expect.stringMatching(/^Line 10: regex "\(unclosed": /)
    ])
    const none = parse('domain a.com upstream Squid', { ...PROFILE, upstreams: [], groups: [] })
    expect(none[0]!.error).toBe(
      'Line 1: this profile has no upstream or group named "Squid" (it has none yet; add one on the Profiles page).'
    )
  })
})

describe('quoted values', () => {
  it('reads values with spaces, quotes and backslashes in double quotes', () => {
    const lines = parse(
      [
        'header "User-Agent: Mozilla/5.0 (X11)" block',
        'regex "^a b$" direct # a comment after the quotes',
        'path "/say \\"hi\\" # not a comment" reject',
        'regex "^ads\\. x\\\\\\\\" via "home pool"',
        'header X-Debug and path "/a b" → Squid'
      ].join('\n')
    )
    expect(lines.map((l) => l.error)).toEqual(Array(5).fill(undefined))
    expect(lines.map((l) => l.rule!.matchers)).toEqual([
      [{ type: 'header', value: 'User-Agent: Mozilla/5.0 (X11)' }],
      [{ type: 'regex', value: '^a b$' }],
      [{ type: 'path', value: '/say "hi" # not a comment' }],
      // A backslash before anything but a quote or a backslash is kept, as regexes need.
      [{ type: 'regex', value: '^ads\\. x\\\\' }],
      [
        { type: 'header', value: 'X-Debug' },
        { type: 'path', value: '/a b' }
      ]
    ])
    expect(lines[1]!.text).toBe('regex "^a b$" direct')
    expect(lines[3]!.rule!.action).toEqual({ type: 'upstream', upstreamId: 'g-1' })
  })

  it('keeps unquoted values as before: a quote inside a word is the character', () => {
    const [line] = parse('header X-A:"b" block')
    expect(line!.rule!.matchers).toEqual([{ type: 'header', value: 'X-A:"b"' }])
  })

  it('says where a quote is left open, runs into a word, or holds nothing', () => {
    expect(parse('path "/a b block')[0]!.error).toBe(
      'Line 1: the quote opened at column 6 is never closed (write \\" for a quote inside a value).'
    )
    expect(parse('path "/a b"x block')[0]!.error).toBe(
      'Line 1: the quoted value closed at column 11 runs into "x"; put a space after the closing quote.'
    )
    expect(parse('path "" block')[0]!.error).toBe('Line 1: path "": must not be empty.')
  })

  it('writes a rule back as a line, quoting where needed', () => {
    const rule = (matchers: Matcher[], action: Action = { type: 'direct' }): Rule => ({
      id: 'x',
      enabled: true,
      matchers,
      action
    })
    expect(ruleLine(rule([{ type: 'header', value: 'User-Agent: a "b" \\ c' }]), PROFILE)).toBe(
      'header "User-Agent: a \\"b\\" \\\\ c" direct'
    )
    expect(
      ruleLine(rule([{ type: 'regex', value: '^ads\\.' }], { type: 'upstream', upstreamId: 'g-1' }), PROFILE)
    ).toBe('regex ^ads\\. upstream "Home Pool"')
    expect(ruleLine(rule([{ type: 'path', value: '#x' }], { type: 'reject' }), PROFILE)).toBe(
      'path "#x" reject'
    )
    // What a line cannot say: a rule switched off, a name, a block body of its own, a line break.
    expect(ruleLine({ ...rule([{ type: 'host', value: 'a.b' }]), enabled: false }, PROFILE)).toBeNull()
    expect(ruleLine({ ...rule([{ type: 'host', value: 'a.b' }]), name: 'n' }, PROFILE)).toBeNull()
    expect(
      ruleLine(rule([{ type: 'host', value: 'a.b' }], { type: 'block', status: 403, body: 'no' }), PROFILE)
    ).toBeNull()
    expect(ruleLine(rule([{ type: 'regex', value: 'a\nb' }]), PROFILE)).toBeNull()
  })
})

describe('placeAt and blockAt', () => {
  it('moves a block and puts items back where they were taken from', () => {
    const moved = placeAt(
      ['a', 'c', 'e'],
      [
        { item: 'b', index: 1 },
        { item: 'd', index: 3 }
      ]
    )
    expect(moved).toEqual({ ok: true, value: ['a', 'b', 'c', 'd', 'e'] })
    expect(blockAt(['x', 'y'], 4)).toEqual([
      { ruleId: 'x', index: 4 },
      { ruleId: 'y', index: 5 }
    ])
  })
})
