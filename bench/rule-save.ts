/**
 * `node bench/rule-save.ts [rules] [saves]`: what saving one rule of a large profile costs, phase by
 * phase, as the service does it (junction-service.ts changeRules): check the edit (rule-edits.ts),
 * write profiles.json (ProfileStore.putRules), compile the rules for the engine after the previous
 * compilation (buildRouting with the routing it replaces, as ProxyEngine.applyProfile does). Saves
 * cycle through an edit, a switch off and a delete of one rule in the middle of the list. For
 * comparison: compiling the profile from nothing, and checking every rule (the whole-profile save).
 *
 * Prints the median and the range of wall time, and the median CPU time of this process (which other
 * processes on the machine move less); pin it (`taskset -c 1`) for steadier figures.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Profile } from '../common/model.ts'
import { UpstreamHealth } from '../main/engine/upstream-health.ts'
import { buildRouting } from '../main/engine/route.ts'
import { ProfileStore } from '../main/profiles/profile-store.ts'
import { removeRules, replaceRule, setRulesEnabled } from '../main/rules/rule-edits.ts'
import { parseProfile } from '../main/rules/validate.ts'
import { generateRules } from './generate-rules.ts'

const COUNT = Number(process.argv[2] ?? 100_000)
const SAVES = Number(process.argv[3] ?? 12)

interface Sample {
  wall: number
  cpu: number
}

async function timed<T>(samples: Sample[], run: () => T | Promise<T>): Promise<T> {
  const cpu = process.cpuUsage()
  const start = performance.now()
  const value = await run()
  samples.push({ wall: performance.now() - start, cpu: process.cpuUsage(cpu).user / 1000 })
  return value
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const ms = (value: number): string => `${value.toFixed(0)}`.padStart(5)

function row(label: string, samples: Sample[]): string {
  const walls = samples.map((s) => s.wall)
  const range = `${ms(Math.min(...walls))}–${ms(Math.max(...walls)).trim()}`
  return `  ${label.padEnd(24)} p50 ${ms(median(walls))} ms  (range ${range} ms)  cpu p50 ${ms(median(samples.map((s) => s.cpu)))} ms`
}

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
    let routing = buildRouting(store.get('big')!, connect)
    // The first save writes every rule's line (the file on disk was written by another program).
    const first = await store.putRules('big', store.get('big')!.rules.slice())
    if (!first.ok) throw new Error(first.error.message)
    const phases = {
      check: [] as Sample[],
      write: [] as Sample[],
      compile: [] as Sample[],
      total: [] as Sample[],
      fresh: [] as Sample[],
      whole: [] as Sample[]
    }
    for (let i = 0; i < SAVES; i++) {
      const current = store.get('big')!
      const target = current.rules[Math.floor(current.rules.length / 2)]!
      const saved = await timed(phases.total, async () => {
        const edited = await timed(phases.check, () =>
          i % 3 === 0
            ? replaceRule(current, { ...target, name: `edit ${i}` })
            : i % 3 === 1
              ? setRulesEnabled(current, [target.id], false)
              : removeRules(current, [target.id])
        )
        if (!edited.ok) throw new Error(edited.error.message)
        const written = await timed(phases.write, () => store.putRules('big', edited.value.rules))
        if (!written.ok) throw new Error(written.error.message)
        routing = await timed(phases.compile, () => buildRouting(written.value, connect, routing.rules))
        return written.value
      })
      await timed(phases.fresh, () => buildRouting(saved, connect))
      await timed(phases.whole, () => {
        if (!parseProfile(saved).ok) throw new Error('the saved profile does not validate')
      })
    }
    const size = (await fs.stat(path.join(dir, 'profiles.json'))).size
    console.log(
      `one rule saved in a profile of ${COUNT.toLocaleString('en')} rules, ${SAVES} saves (edit, switch off, delete):`
    )
    console.log(row('check the edit', phases.check))
    console.log(row(`write (${(size / 2 ** 20).toFixed(1)} MiB)`, phases.write))
    console.log(row('compile after the edit', phases.compile))
    console.log(row('per-rule save', phases.total))
    console.log('for comparison:')
    console.log(row('compile from nothing', phases.fresh))
    console.log(row('check every rule', phases.whole))
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

await main()
