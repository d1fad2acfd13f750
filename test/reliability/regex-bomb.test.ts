/**
 * Patterns that make a backtracking matcher take exponential or high-polynomial time, matched by the
 * real engine against 253-character names and paths a web page chooses: the event loop — and so
 * every other connection — keeps moving.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Profile, Rule } from '../../common/model.ts'
import type { ProxyEngine } from '../../main/engine/engine.ts'
import { parseProfile } from '../../main/rules/validate.ts'
import { rawRequest } from '../harness/client.ts'
import { startEngine } from '../integration/world.ts'

const block = (id: string, matchers: Rule['matchers']): Rule => ({
  id,
  enabled: true,
  matchers,
  action: { type: 'block', status: 403, body: 'blocked by a pathological pattern' }
})

const stars = (n: number) => `${'*a'.repeat(n)}*b`

// With JS RegExp, `^(a+)+$` took 5.7 s on a 30-character name, doubling with each character.
const profile: Profile = {
  id: 'bombs',
  name: 'Bombs',
  upstreams: [],
  rules: [
    block('regex', [{ type: 'regex', value: '^(a+)+$' }]),
    block('regex-alt', [{ type: 'regex', value: '^(a|aa)+$' }]),
    block('wildcard', [{ type: 'wildcard', value: stars(12) }]),
    block('path', [{ type: 'path', value: `/${stars(12)}` }]),
    block('header', [{ type: 'header', value: `X-Probe: ${stars(12)}` }])
  ],
  defaultAction: { type: 'block', status: 404, body: 'no rule matched' }
}

let engine: ProxyEngine & { port: number }

beforeAll(async () => {
  // The loader and the form take these patterns: on RE2 they are harmless, so nothing is refused.
  const parsed = parseProfile(profile)
  expect(parsed.ok).toBe(true)
  engine = await startEngine({ profile })
})
afterAll(async () => {
  await engine?.stop()
})

const hostile = 'a'.repeat(252) + '-'
const get = (host: string, path = '/', probe = 'x') =>
  rawRequest(
    engine.port,
    `GET http://${host}${path} HTTP/1.1\r\nHost: ${host}\r\nX-Probe: ${probe}\r\nConnection: close\r\n\r\n`
  )

/** The longest event-loop stall (ms) while `work` runs, at 1 ms resolution. */
async function longestStall(work: () => Promise<void>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  await work()
  histogram.disable()
  return histogram.max / 1e6
}

describe('pathological patterns', () => {
  it('still match what they should', async () => {
    expect(await get('aaaa')).toMatch(/^HTTP\/1\.1 403 /)
    expect(await get(`${'a'.repeat(12)}.web`)).toMatch(/^HTTP\/1\.1 403 /)
    expect(await get('ok.example', `/${'a'.repeat(12)}b`)).toMatch(/^HTTP\/1\.1 403 /)
    expect(await get('ok.example', '/', `${'a'.repeat(12)}b`)).toMatch(/^HTTP\/1\.1 403 /)
    // No rule matches: the default action answers.
    expect(await get('ok.example')).toMatch(/^HTTP\/1\.1 404 /)
  })

  it('keep the event loop under 5 ms while matching hostile 253-character names, paths and headers', async () => {
    const round = () =>
      longestStall(async () => {
        for (let i = 0; i < 10; i++) {
          const reply = await get(hostile, `/${hostile}`, hostile)
          // Every rule was tried and none matched: the default action answered.
          expect(reply).toMatch(/^HTTP\/1\.1 404 /)
        }
      })
    // Best of three rounds: another process on this 2-core machine can stall one round, while a
    // backtracking matcher would stall all of them (seconds, not milliseconds).
    const stalls = [await round(), await round(), await round()]
    expect(Math.min(...stalls)).toBeLessThan(5)
  })
})
