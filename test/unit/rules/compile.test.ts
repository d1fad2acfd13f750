import { describe, expect, it } from 'vitest'
import type { Action, Matcher, Rule, RouteTarget } from '../../../common/model.ts'
import { CompiledRules } from '../../../main/rules/compile.ts'
import { MATCHERS, normalizeTarget } from '../../../main/rules/matchers.ts'

let nextId = 0
const rule = (matchers: Matcher[], action: Action = { type: 'direct' }, enabled = true): Rule => ({
  id: `r${nextId++}`,
  enabled,
  matchers,
  action
})
const block: Action = { type: 'block', status: 403, body: 'no' }
const via: Action = { type: 'upstream', upstreamId: 'up' }
const http = (hostname: string, port = 80): RouteTarget => ({ hostname, port, isHttp: true })
const tls = (hostname: string, port = 443): RouteTarget => ({ hostname, port, isHttp: false })

describe('CompiledRules.match', () => {
  it.each([
    ['host', 'Example.COM.', http('example.com'), true],
    ['host', 'example.com', http('www.example.com'), false],
    ['domain', 'example.com', tls('a.b.example.com'), true],
    ['domain', 'example.com', tls('example.com'), true],
    ['domain', 'example.com', tls('notexample.com'), false],
    ['domain', '*.example.com', tls('x.example.com'), true],
    ['wildcard', '*.cdn.*.com', tls('img.cdn.fast.com'), true],
    ['wildcard', '*.cdn.*.com', tls('cdn.fast.com'), false],
    ['wildcard', 'ads.*', tls('ads.example.org'), true],
    ['wildcard', 'a?c.test', http('abc.test'), true],
    ['regex', '^(www\\.)?track(er)?\\d+\\.', http('tracker7.example.net'), true],
    ['regex', '^track\\d', http('www.track1.net'), false],
    ['ip', '10.0.0.0/8', http('10.200.3.4'), true],
    ['ip', '10.0.0.0/8', http('11.0.0.1'), false],
    ['ip', '192.168.1.7', http('192.168.1.7'), true],
    ['ip', '2001:db8::/32', tls('[2001:db8::1]'), true],
    ['ip', '2001:db8::/32', tls('[2001:db9::1]'), false],
    ['ip', '127.0.0.0/8', tls('[::ffff:127.0.0.1]'), true],
    ['ip', '10.0.0.0/8', http('10.example.com'), false],
    ['port', '443', tls('x.test', 443), true],
    ['port', '80,8080', http('x.test', 8080), true],
    ['port', '8000-8999', http('x.test', 8500), true],
    ['port', '8000-8999', http('x.test', 9000), false],
    ['protocol', 'http', http('x.test'), true],
    ['protocol', 'connect', http('x.test'), false]
  ] as const)('%s %s vs %j → %s', (type, value, target, expected) => {
    const compiled = new CompiledRules([rule([{ type, value } as Matcher], block)], { type: 'direct' })
    const { decision, rule: matched } = compiled.match(target)
    expect(decision.action).toBe(expected ? 'block' : 'direct')
    expect(matched === null).toBe(!expected)
  })

  it('takes the first enabled match in list order, across index kinds', () => {
    const rules = [
      rule([{ type: 'domain', value: 'example.com' }], block, false),
      rule([{ type: 'regex', value: 'example' }], via),
      rule([{ type: 'host', value: 'www.example.com' }], block)
    ]
    const compiled = new CompiledRules(rules, { type: 'reject' })
    expect(compiled.match(tls('www.example.com'))).toMatchObject({
      decision: { action: 'upstream' },
      rule: { rule: rules[1] },
      index: 1
    })
    expect(compiled.match(tls('other.test'))).toEqual({
      decision: { action: 'reject' },
      rule: null,
      index: -1
    })
  })

  it('requires every matcher of a rule to match', () => {
    const compiled = new CompiledRules(
      [
        rule(
          [
            { type: 'domain', value: 'example.com' },
            { type: 'port', value: '8443' },
            { type: 'protocol', value: 'connect' }
          ],
          block
        )
      ],
      { type: 'direct' }
    )
    expect(compiled.match(tls('a.example.com', 8443)).decision.action).toBe('block')
    expect(compiled.match(tls('a.example.com', 443)).decision.action).toBe('direct')
    expect(compiled.match(http('a.example.com', 8443)).decision.action).toBe('direct')
  })

  it('agrees with a plain linear scan on random rule sets (the indexes change speed, never results)', () => {
    let seed = 42
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const labels = ['a', 'b', 'cdn', 'example', 'test', 'com', 'net']
    const host = (): string =>
      Array.from({ length: 1 + rand(3) }, () => labels[rand(labels.length)]).join('.')
    const ip = (): string => `10.${rand(3)}.${rand(3)}.${rand(4)}`
    const matcher = (): Matcher => {
      switch (rand(7)) {
        case 0:
          return { type: 'host', value: host() }
        case 1:
          return { type: 'domain', value: host() }
        case 2:
          return { type: 'wildcard', value: `*.${host()}` }
        case 3:
          return { type: 'regex', value: `^${labels[rand(labels.length)]}\\.` }
        case 4:
          return { type: 'ip', value: `10.${rand(3)}.0.0/${[8, 16, 24][rand(3)]}` }
        case 5:
          return { type: 'port', value: rand(2) ? String(80 + rand(3)) : '80-81' }
        default:
          return { type: 'protocol', value: rand(2) ? 'http' : 'connect' }
      }
    }
    for (let round = 0; round < 30; round++) {
      const rules = Array.from({ length: 60 }, (_, i) =>
        rule(
          Array.from({ length: 1 + rand(2) }, matcher),
          { type: 'upstream', upstreamId: `u${i}` },
          rand(5) > 0
        )
      )
      const compiled = new CompiledRules(rules, { type: 'direct' })
      for (let probe = 0; probe < 200; probe++) {
        const target = { hostname: rand(4) ? host() : ip(), port: 80 + rand(3), isHttp: rand(2) === 1 }
        const t = normalizeTarget(target)
        const expected = rules.findIndex(
          (r) => r.enabled && r.matchers.every((m) => MATCHERS[m.type].compile(m.value)(t))
        )
        const got = compiled.match(target).index
        expect(got, `${JSON.stringify(target)} in round ${round}`).toBe(expected)
      }
    }
  })
})

describe('request matchers', () => {
  const request = (method: string, path: string, headers: Record<string, string> = {}): RouteTarget => ({
    hostname: 'app.test',
    port: 443,
    isHttp: true,
    request: { method, path, headers }
  })
  const rules = new CompiledRules(
    [
      rule([{ type: 'path', value: '/api/' }], block),
      rule([{ type: 'method', value: 'post, put' }], via),
      rule(
        [
          { type: 'header', value: 'Accept: *json*' },
          { type: 'host', value: 'app.test' }
        ],
        block
      ),
      rule([{ type: 'path', value: '*/login*' }], via)
    ],
    { type: 'direct' }
  )
  const decide = (target: RouteTarget) => {
    const { index } = rules.match(target)
    return index === -1 ? null : index
  }

  it('match what only a request shows, and are scanned in list order', () => {
    expect(rules.usesRequest).toBe(true)
    expect(decide(request('GET', '/api/users'))).toBe(0)
    expect(decide(request('POST', '/form'))).toBe(1)
    expect(decide(request('GET', '/x', { accept: 'application/json' }))).toBe(2)
    expect(decide(request('GET', '/x', { accept: 'text/html' }))).toBe(null)
    expect(decide(request('GET', '/app/login?next=/'))).toBe(3)
  })

  it('never match a CONNECT, or a request routed without its details', () => {
    expect(decide({ hostname: 'app.test', port: 443, isHttp: false })).toBe(null)
    expect(decide({ hostname: 'app.test', port: 80, isHttp: true })).toBe(null)
    expect(
      new CompiledRules([rule([{ type: 'host', value: 'a.test' }])], { type: 'direct' }).usesRequest
    ).toBe(false)
  })
})
