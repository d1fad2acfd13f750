/**
 * The instrument behind `bench/idle-rss.ts` (the idle-memory target is judged there, not here): it
 * starts the built headless entry (`npm run build` first) in the peers benchmark's configuration and
 * reads its RSS. The built entry bundles zod (electron.vite.config.ts), so this also checks that the
 * bundled copy still validates the configuration it loads.
 */
import { rmSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { benchDataDir, benchProfile, measureIdleRss } from '../../bench/idle-rss.ts'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('headless mode (built entry) before any traffic', () => {
  it('starts with the 1,000-rule profile and reads its resident memory once it has settled', async () => {
    const dir = benchDataDir(benchProfile(1000))
    dirs.push(dir)
    const { rssMiB, output } = await measureIdleRss(dir)
    expect(output).toMatch(/proxy listening on http:\/\/127\.0\.0\.1:\d+ — profile "Bench"/)
    // Node alone is over 40 MiB; a figure below that was not read from this process.
    expect(rssMiB).toBeGreaterThan(40)
  })

  it('still validates the profiles it loads: an invalid rule is left out and named', async () => {
    const profile = benchProfile(20)
    profile.rules.push({
      id: 'bad-cidr',
      enabled: true,
      matchers: [{ type: 'ip', value: '10.0.0.0/99' }],
      action: { type: 'direct' }
    })
    const dir = benchDataDir(profile)
    dirs.push(dir)
    const { output } = await measureIdleRss(dir, { settleMs: 0 })
    expect(output).toMatch(/config problem: .*profiles\.json has invalid entries, ignored: .*bad-cidr/)
    expect(output).toMatch(/profile "Bench"/)
  })
})
