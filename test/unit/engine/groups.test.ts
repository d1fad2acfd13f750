/**
 * Group routing without sockets: member order by strategy and health, the back-off, measurement
 * scheduling, and the status the Profiles view shows.
 */
import { describe, expect, it, vi } from 'vitest'
import type { Profile, Upstream, UpstreamGroup } from '../../../common/model.ts'
import { describeGroups, GroupRouter, isMemberFault } from '../../../main/engine/groups.ts'
import { measureAll, UpstreamHealth, type LatencyProbe } from '../../../main/engine/upstream-health.ts'
import type { UpstreamConnector } from '../../../main/engine/upstream-connect.ts'
import { explain } from '../../../main/rules/explain.ts'
import { createNameResolver, historyName } from '../../../main/stats/display-names.ts'

const upstream = (id: string, port = 3128): Upstream => ({
  id,
  name: id.toUpperCase(),
  scheme: 'http',
  host: '127.0.0.1',
  port
})
/** Group routing reads only `upstream` of a connector. */
const connector = (id: string): UpstreamConnector => ({ upstream: upstream(id) }) as UpstreamConnector
const members = ['a', 'b', 'c'].map(connector)
const reply = (code: 'upstream-refused' | 'upstream-error') => ({ status: 502, code, message: `${code}!` })

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start
  return { now: () => t, advance: (ms) => void (t += ms) }
}

function router(
  strategy: UpstreamGroup['strategy'],
  health: UpstreamHealth,
  extra: Partial<UpstreamGroup> = {},
  probe: LatencyProbe | null = null
) {
  const group: UpstreamGroup = { id: 'g', name: 'G', strategy, members: ['a', 'b', 'c'], ...extra }
  return new GroupRouter(
    group,
    members,
    members.map((m) => m.upstream),
    health,
    probe
  )
}
const ids = (list: UpstreamConnector[]): string[] => list.map((m) => m.upstream.id)

describe('UpstreamHealth', () => {
  it('backs off 5 s, doubling to 5 min, and a success resets it', () => {
    const t = clock()
    const health = new UpstreamHealth(undefined, t.now)
    const a = upstream('a')
    const waits: number[] = []
    for (let i = 0; i < 9; i++) {
      health.failed(a, 'refused')
      waits.push(health.get('a').downUntil - t.now())
      t.advance(waits.at(-1)!)
    }
    expect(waits).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000])
    health.succeeded(a)
    expect(health.isUp('a')).toBe(true)
    health.failed(a, 'refused')
    expect(health.get('a').downUntil - t.now()).toBe(5_000)
  })

  it('counts failures reported while already down once', () => {
    const t = clock()
    const health = new UpstreamHealth(undefined, t.now)
    for (let i = 0; i < 50; i++) health.failed(upstream('a'), `refused ${i}`)
    expect(health.get('a').failures).toBe(1)
    expect(health.get('a').lastError).toBe('refused 49')
  })

  it('forgets an upstream whose address changed, keeps one that did not', () => {
    const health = new UpstreamHealth()
    health.failed(upstream('a'), 'x')
    health.failed(upstream('b'), 'x')
    health.keepOnly([upstream('a', 3129), upstream('b')])
    expect(health.isUp('a')).toBe(true)
    expect(health.isUp('b')).toBe(false)
  })

  it('claims one measurement per interval', () => {
    const t = clock()
    const health = new UpstreamHealth(undefined, t.now)
    expect(health.claimMeasurement('g', 60_000)).toBe(true)
    expect(health.claimMeasurement('g', 60_000)).toBe(false)
    t.advance(59_999)
    expect(health.claimMeasurement('g', 60_000)).toBe(false)
    t.advance(1)
    expect(health.claimMeasurement('g', 60_000)).toBe(true)
  })
})

describe('GroupRouter', () => {
  it('failover: members that are up in order, then those down, in order', () => {
    const health = new UpstreamHealth()
    const r = router('failover', health)
    expect(ids(r.order())).toEqual(['a', 'b', 'c'])
    r.failed(members[0]!, reply('upstream-refused'))
    r.failed(members[2]!, reply('upstream-refused'))
    expect(ids(r.order())).toEqual(['b', 'a', 'c'])
    r.failed(members[1]!, reply('upstream-refused'))
    // All down: all still tried, in the group's order.
    expect(ids(r.order())).toEqual(['a', 'b', 'c'])
  })

  it('round-robin: each request starts one further among members that are up', () => {
    const health = new UpstreamHealth()
    const r = router('round-robin', health)
    expect([0, 1, 2, 3].map(() => r.order()[0]!.upstream.id)).toEqual(['a', 'b', 'c', 'a'])
    r.failed(members[1]!, reply('upstream-refused'))
    const firsts = Array.from({ length: 4 }, () => ids(r.order()))
    expect(firsts.map((o) => o[0])).not.toContain('b')
    expect(firsts.every((o) => o.at(-1) === 'b')).toBe(true)
  })

  it('lowest-latency: fastest first, unmeasured after in order; measures only when used and due', async () => {
    const t = clock()
    const health = new UpstreamHealth(undefined, t.now)
    const latencies: Record<string, number | null> = { a: 300, b: null, c: 20 }
    const probe = vi.fn<LatencyProbe>(async (u) => ({
      latencyMs: latencies[u.id]!,
      error: latencies[u.id] === null ? 'refused' : null
    }))
    const r = router('lowest-latency', health, { testIntervalMinutes: 2 }, probe)
    expect(probe).not.toHaveBeenCalled()
    expect(ids(r.order())).toEqual(['a', 'b', 'c'])
    await vi.waitFor(() => expect(health.get('c').latencyMs).toBe(20))
    expect(probe).toHaveBeenCalledTimes(3)
    expect(ids(r.order())).toEqual(['c', 'a', 'b'])
    expect(health.get('b').lastError).toBe('refused')
    t.advance(119_000)
    r.order()
    expect(probe).toHaveBeenCalledTimes(3)
    t.advance(1_000)
    r.order()
    expect(probe).toHaveBeenCalledTimes(6)
  })

  it('manual: the selected member alone; the first when none or a missing one is selected', () => {
    const health = new UpstreamHealth()
    expect(ids(router('manual', health, { selected: 'b' }).order())).toEqual(['b'])
    expect(ids(router('manual', health).order())).toEqual(['a'])
    expect(ids(router('manual', health, { selected: 'gone' }).order())).toEqual(['a'])
  })

  it('counts as the member’s fault only refusals, resets, timeouts and refused credentials', () => {
    expect(isMemberFault(reply('upstream-refused'))).toBe(true)
    for (const code of ['upstream-reset', 'upstream-timeout', 'upstream-auth-failed'] as const)
      expect(isMemberFault({ status: 502, code, message: '' })).toBe(true)
    for (const code of ['upstream-error', 'upstream-rejected', 'dns-failed', 'target-refused'] as const)
      expect(isMemberFault({ status: 502, code, message: '' })).toBe(false)
  })
})

describe('measureAll', () => {
  it('runs at most four probes at once and reports each, a throwing probe as an error', async () => {
    let running = 0
    let most = 0
    const probe: LatencyProbe = async (u) => {
      running++
      most = Math.max(most, running)
      await new Promise((resolve) => setTimeout(resolve, 5))
      running--
      if (u.id === 'u3') throw new Error('could not start')
      return { latencyMs: 1, error: null }
    }
    const list = Array.from({ length: 10 }, (_, i) => upstream(`u${i}`))
    const seen = new Map<string, string | null>()
    await measureAll(list, list, 'http://127.0.0.1/', probe, (u, m) => seen.set(u.id, m.error))
    expect(most).toBe(4)
    expect(seen.size).toBe(10)
    expect(seen.get('u3')).toBe('could not start')
  })
})

describe('describeGroups', () => {
  it('shows each member’s state and the member a request would try first', () => {
    const t = clock()
    const health = new UpstreamHealth(undefined, t.now)
    health.failed(upstream('a'), 'refused')
    health.measured(upstream('b'), { latencyMs: 42, error: null })
    const profile: Profile = {
      id: 'p',
      name: 'P',
      upstreams: ['a', 'b', 'c'].map((id) => upstream(id)),
      groups: [
        { id: 'f', name: 'F', strategy: 'failover', members: ['a', 'b', 'c'] },
        { id: 'm', name: 'M', strategy: 'manual', members: ['a', 'c'], selected: 'c' },
        { id: 'r', name: 'R', strategy: 'round-robin', members: ['a', 'b'] }
      ],
      rules: [],
      defaultAction: { type: 'direct' }
    }
    const [f, m, r] = describeGroups(profile, health, t.now())
    expect(f!.current).toBe('b')
    expect(f!.members[0]).toMatchObject({
      upstreamId: 'a',
      state: 'down',
      downUntil: t.now() + 5000,
      failures: 1,
      lastError: 'refused'
    })
    expect(f!.members[1]).toMatchObject({ upstreamId: 'b', state: 'up', latencyMs: 42, downUntil: null })
    expect(m!.current).toBe('c')
    expect(r!.current).toBeNull()
    // Not the running profile: every member up and unmeasured.
    expect(
      describeGroups(profile, null)[0]!.members.every((s) => s.state === 'up' && s.latencyMs === null)
    ).toBe(true)
  })
})

describe('names of groups', () => {
  const profile: Profile = {
    id: 'p',
    name: 'P',
    upstreams: [upstream('a')],
    groups: [{ id: 'office', name: 'Office', strategy: 'failover', members: ['a'] }],
    rules: [
      {
        id: 'r',
        enabled: true,
        matchers: [{ type: 'domain', value: 'example.com' }],
        action: { type: 'upstream', upstreamId: 'office' }
      }
    ],
    defaultAction: { type: 'upstream', upstreamId: 'office' }
  }

  it('explain() says a request goes through the group', () => {
    expect(explain(profile, 'http://example.com/').text).toContain('via group "Office" (failover)')
  })

  it('a rule without a name is described with its group; the route shows the member', () => {
    const names = createNameResolver(() => [profile])
    expect(names('p', 'r', 'a')).toEqual({
      profileName: 'P',
      ruleName: 'domain example.com and subdomains → group Office',
      routeName: 'A'
    })
    // A group's member carried it: both are named, in this profile or (history) any other.
    expect(names('p', null, 'a@office').routeName).toBe('A (group Office)')
    expect(historyName([profile], 'route', 'a@office')).toBe('A (group Office)')
  })
})
