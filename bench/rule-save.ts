/**
 * `node bench/rule-save.ts [rules]`: what saving one rule of a large profile costs, phase by phase, and
 * what the whole-profile save it replaced cost. Per-rule: check the one rule (rule-edits.ts), write
 * profiles.json (ProfileStore.putRules), compile the profile for the engine (buildRouting). Whole:
 * parseProfile over every rule, then the same write and compile. Medians of 7 saves; one machine.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Profile } from '../common/model.ts'
import { UpstreamHealth } from '../main/engine/upstream-health.ts'
import { buildRouting } from '../main/engine/route.ts'
import { ProfileStore } from '../main/profiles/profile-store.ts'
import { replaceRule } from '../main/rules/rule-edits.ts'
import { parseProfile } from '../main/rules/validate.ts'
import { generateRules } from './generate-rules.ts'

const COUNT = Number(process.argv[2] ?? 100_000)
const SAVES = 7

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const ms = (value: number): string => `${value.toFixed(0)} ms`

async function main(): Promise<void> {
  const profile: Profile = {
    id: 'big',
    name: 'Big',
    upstreams: [],
    rules: generateRules(COUNT),
    defaultAction: { type: 'direct' }
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-rule-save-'))
  try {
    await fs.writeFile(path.join(dir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [profile] }))
    const { store } = await ProfileStore.open(dir)
    const connect = { connectMs: 15_000, lookup: undefined, health: new UpstreamHealth(), probe: null }
    const phases = {
      check: [] as number[],
      write: [] as number[],
      compile: [] as number[],
      whole: [] as number[]
    }
    for (let i = 0; i < SAVES; i++) {
      const rule = { ...profile.rules[COUNT / 2]!, name: `edit ${i}` }
      let t = performance.now()
      const edited = replaceRule(store.get('big')!, rule)
      if (!edited.ok) throw new Error(edited.error.message)
      phases.check.push(performance.now() - t)
      t = performance.now()
      const saved = await store.putRules('big', edited.value.rules)
      if (!saved.ok) throw new Error(saved.error.message)
      phases.write.push(performance.now() - t)
      t = performance.now()
      buildRouting(saved.value, connect)
      phases.compile.push(performance.now() - t)
      t = performance.now()
      if (!parseProfile(saved.value).ok) throw new Error('the saved profile does not validate')
      phases.whole.push(performance.now() - t)
    }
    const size = (await fs.stat(path.join(dir, 'profiles.json'))).size
    const perRule = median(phases.check) + median(phases.write) + median(phases.compile)
    console.log(`one rule saved in a profile of ${COUNT.toLocaleString('en')} rules (median of ${SAVES}):`)
    console.log(`  check the rule      ${ms(median(phases.check))}`)
    console.log(`  write profiles.json ${ms(median(phases.write))} (${(size / 2 ** 20).toFixed(1)} MiB)`)
    console.log(`  compile for engine  ${ms(median(phases.compile))}`)
    console.log(`  per-rule save       ${ms(perRule)}`)
    console.log(
      `  whole-profile save  ${ms(perRule + median(phases.whole))} (checks every rule: +${ms(median(phases.whole))})`
    )
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

await main()
