/**
 * Rule lookup latency: each lookup is timed on its own with the high-resolution clock, and the
 * clock's own cost (measured here, in the same run) is subtracted.
 */
import type { RouteTarget, Rule } from '../common/model.ts'
import { CompiledRules } from '../main/rules/compile.ts'
import { generateRules, randomDomain, seededRandom } from './generate-rules.ts'

export interface LookupFigures {
  rules: number
  lookups: number
  compileMs: number
  p50ns: number
  p99ns: number
  meanNs: number
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

/** Targets: half are subdomains of hosts some rule names, half are names no rule mentions. */
function targets(rules: readonly Rule[], count: number): RouteTarget[] {
  const known = rules.flatMap((rule) => {
    const m = rule.matchers[0]!
    return m.type === 'domain' || m.type === 'host' ? [m.value] : []
  })
  const rand = seededRandom(99)
  return Array.from({ length: count }, (_, i) => {
    const hostname = i % 2 === 0 ? `x.${known[rand(known.length)]}` : randomDomain(rand, 1_000_000 + i)
    return { hostname, port: i % 3 === 0 ? 80 : 443, isHttp: i % 3 === 0 }
  })
}

function clockOverheadNs(samples = 200_000): number {
  const t = new Float64Array(samples)
  for (let i = 0; i < samples; i++) {
    const a = process.hrtime.bigint()
    t[i] = Number(process.hrtime.bigint() - a)
  }
  t.sort()
  return percentile(t, 0.5)
}

export function measureLookups(ruleCount: number, lookups = 200_000): LookupFigures {
  const rules = generateRules(ruleCount, 7)
  const started = process.hrtime.bigint()
  const compiled = new CompiledRules(rules, { type: 'direct' })
  const compileMs = Number(process.hrtime.bigint() - started) / 1e6
  const probe = targets(rules, 10_000)
  // Warm up so that the JIT has compiled the lookup path before we time it.
  for (let i = 0; i < 50_000; i++) compiled.match(probe[i % probe.length]!)
  const overhead = clockOverheadNs()
  const times = new Float64Array(lookups)
  let sink = 0
  for (let i = 0; i < lookups; i++) {
    const target = probe[i % probe.length]!
    const a = process.hrtime.bigint()
    const match = compiled.match(target)
    times[i] = Math.max(0, Number(process.hrtime.bigint() - a) - overhead)
    if (match.rule) sink++
  }
  if (sink === 0) throw new Error('no lookup matched a rule: the probe set is wrong')
  times.sort()
  const mean = times.reduce((s, v) => s + v, 0) / times.length
  return {
    rules: ruleCount,
    lookups,
    compileMs,
    p50ns: percentile(times, 0.5),
    p99ns: percentile(times, 0.99),
    meanNs: mean
  }
}
