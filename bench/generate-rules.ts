/**
 * Deterministic rule sets shaped like real block and routing lists: mostly domain suffixes and exact
 * hosts, some wildcards and CIDR blocks, a few port rules and a fixed handful of regexes (regexes
 * cannot be indexed, so their count, not the rule count, sets their cost).
 */
import type { Matcher, Profile, Rule } from '../common/model.ts'

export function seededRandom(seed: number): (n: number) => number {
  let state = seed >>> 0
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state % n
  }
}

const WORDS = [
  'ads',
  'cdn',
  'img',
  'api',
  'static',
  'track',
  'media',
  'mail',
  'shop',
  'news',
  'video',
  'auth'
]
const TLDS = ['com', 'net', 'org', 'io', 'de', 'co.uk']

export function randomDomain(rand: (n: number) => number, i: number): string {
  return `${WORDS[rand(WORDS.length)]}${i}.${WORDS[rand(WORDS.length)]}.${TLDS[rand(TLDS.length)]}`
}

export function generateRules(count: number, seed = 1, regexCount = 20): Rule[] {
  const rand = seededRandom(seed)
  const rules: Rule[] = []
  for (let i = 0; i < count; i++) {
    let matchers: Matcher[]
    if (i < regexCount) matchers = [{ type: 'regex', value: `^${WORDS[i % WORDS.length]}-\\d+-tracker\\.` }]
    else {
      const kind = rand(100)
      if (kind < 70) matchers = [{ type: 'domain', value: randomDomain(rand, i) }]
      else if (kind < 85) matchers = [{ type: 'host', value: `www.${randomDomain(rand, i)}` }]
      else if (kind < 90) matchers = [{ type: 'wildcard', value: `*.${WORDS[rand(WORDS.length)]}${i}.*.com` }]
      else if (kind < 99)
        matchers = [{ type: 'ip', value: `10.${rand(256)}.${rand(256)}.0/${[16, 24, 28][rand(3)]}` }]
      else
        matchers = [
          { type: 'domain', value: randomDomain(rand, i) },
          { type: 'port', value: String(8000 + rand(100)) }
        ]
    }
    const action: Rule['action'] = rand(2)
      ? { type: 'block', status: 403, body: 'Blocked' }
      : { type: 'direct' }
    rules.push({ id: `r${i}`, enabled: true, matchers, action })
  }
  return rules
}

export function generateProfile(count: number, seed = 1): Profile {
  return {
    id: 'bench',
    name: 'Bench',
    upstreams: [],
    rules: generateRules(count, seed),
    defaultAction: { type: 'direct' }
  }
}
