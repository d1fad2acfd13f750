/**
 * Switching the active profile to one of 100,000 rules and back, as a user does it: a headless
 * Junction (main/app/runtime.ts) with a data directory holding both profiles, the switch asked for
 * through `dispatch` as the dashboard and the tray ask for it. Reported: the wall time of each switch
 * (the settings file saved, then the rules compiled), and the longest the event loop was blocked
 * meanwhile, which is how long traffic already under way waited: compiling is synchronous.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { AppApi } from '../common/ipc-contract.ts'
import type { Profile } from '../common/model.ts'
import type { Result } from '../common/result.ts'
import { startRuntime } from '../main/app/runtime.ts'
import { dispatch } from '../main/services/dispatch.ts'
import { generateRules } from './generate-rules.ts'

export interface SwitchFigures {
  /** Rules in the profile switched to, and in the one switched back to. */
  rules: number
  smallRules: number
  /** Wall time of each switch to the large profile and of each switch back (ms). */
  toLargeMs: number[]
  toSmallMs: number[]
  /** The longest event-loop block during each switch to the large profile (ms). */
  blockedMs: number[]
}

const SMALL_RULES = 1000

function profile(id: string, rules: number): Profile {
  return { id, name: id, upstreams: [], rules: generateRules(rules, 11), defaultAction: { type: 'direct' } }
}

async function switchTo(api: AppApi, id: string): Promise<[wallMs: number, blockedMs: number]> {
  // A 1 ms timer's lateness, sampled by Node; the largest is the longest block.
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  const started = performance.now()
  const result = (await dispatch(api, 'setActiveProfile', [id])) as Result<unknown>
  const wall = performance.now() - started
  // The block is recorded when the sampling timer next runs: let it.
  await new Promise((resolve) => setTimeout(resolve, 20))
  delay.disable()
  if (!result.ok) throw new Error(`setActiveProfile ${id}: ${result.error.message}`)
  const state = result.value as { profileId?: string }
  if (state.profileId !== id)
    throw new Error(`the engine runs "${state.profileId}" after switching to "${id}"`)
  return [wall, delay.max / 1e6]
}

export async function measureProfileSwitch(rules = 100_000, switches = 5): Promise<SwitchFigures> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-bench-switch-'))
  const figures: SwitchFigures = {
    rules,
    smallRules: SMALL_RULES,
    toLargeMs: [],
    toSmallMs: [],
    blockedMs: []
  }
  try {
    await fs.writeFile(
      path.join(dataDir, 'profiles.json'),
      JSON.stringify({ version: 1, profiles: [profile('small', SMALL_RULES), profile('large', rules)] })
    )
    await fs.writeFile(
      path.join(dataDir, 'settings.json'),
      JSON.stringify({ version: 1, activeProfileId: 'small' })
    )
    const app = await startRuntime({ dataDir, port: 0, systemProxy: 'off', log: () => undefined })
    try {
      for (let i = 0; i < switches; i++) {
        const [wall, blocked] = await switchTo(app.service, 'large')
        figures.toLargeMs.push(wall)
        figures.blockedMs.push(blocked)
        figures.toSmallMs.push((await switchTo(app.service, 'small'))[0])
      }
    } finally {
      await app.stop()
    }
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true })
  }
  return figures
}
