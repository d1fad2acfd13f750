/**
 * Headless mode's resident memory before any traffic, with no rules and with the peers benchmark's
 * profile (1,000 rules of bench/generate-rules.ts, statistics and the request log file on): the
 * figure issue 14 sets at 90 MiB. Each run is a fresh process of the built entry in a fresh data
 * directory, read once it has started and idled for a while; the two configurations take turns.
 *
 *   node bench/idle-rss.ts [--runs 3] [--settle 2000] [--rules 0,1000] [--entry A.js,B.js] [-- NODE_FLAG…]
 *
 * `--entry` measures other builds of `out/main/serve.js` too (e.g. one of an earlier commit), in turn
 * with this one.
 * Node flags after `--` go to the measured process; `--keep` sends it SIGUSR2 before stopping it and
 * keeps its data directory, so `-- --heapsnapshot-signal=SIGUSR2` leaves a heap snapshot there.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { builtServeEntry, servedNodeFlags } from './built-serve.ts'
import type { Profile } from '../common/model.ts'
import { generateProfile } from './generate-rules.ts'
import { rssKiB } from './proc.ts'

export interface IdleRss {
  entry: string
  rules: number
  rssMiB: number
  /** How long the process took from spawn to "dashboard: http…". */
  startMs: number
  /** What it printed until then. */
  output: string
}

/**
 * A data directory as the peers benchmark gives Junction: the profile (none: no profile at all)
 * active, the request log file on.
 */
export function benchDataDir(profile: Profile | null): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'junction-idle-rss-'))
  if (profile)
    writeFileSync(path.join(dir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [profile] }))
  writeFileSync(
    path.join(dir, 'settings.json'),
    JSON.stringify({ version: 1, ...(profile ? { activeProfileId: profile.id } : {}), requestLogFile: true })
  )
  return dir
}

export const benchProfile = (rules: number): Profile => ({
  ...generateProfile(rules, 1),
  id: 'bench',
  name: 'Bench'
})

/**
 * Starts the built entry on `dir`, waits until it has started and `settleMs` more, reads its RSS and
 * stops it. `nodeFlags` go to the measured process; with `snapshot` it is sent SIGUSR2 before it is
 * stopped (for `--heapsnapshot-signal=SIGUSR2`, whose file lands in `dir`).
 */
export async function measureIdleRss(
  dir: string,
  { settleMs = 2000, nodeFlags = [] as string[], snapshot = false, entry = builtServeEntry() } = {}
): Promise<Omit<IdleRss, 'rules' | 'entry'>> {
  const started = performance.now()
  const child = spawn(
    process.execPath,
    [...servedNodeFlags(), ...nodeFlags, entry, '--port', '0', '--data-dir', dir, '--system-proxy', 'off'],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: dir }
  )
  let output = ''
  try {
    const startMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`headless did not start: ${output}`)), 30_000)
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (/dashboard: http/.test(output)) {
          clearTimeout(timer)
          resolve(performance.now() - started)
        }
      })
      child.once('exit', (code) => reject(new Error(`headless exited (${code}): ${output}`)))
    })
    await new Promise((resolve) => setTimeout(resolve, settleMs))
    const rssMiB = rssKiB(child.pid!) / 1024
    if (snapshot) {
      child.kill('SIGUSR2')
      await new Promise((resolve) => setTimeout(resolve, 3000))
    }
    return { rssMiB, startMs, output }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '3' },
      settle: { type: 'string', default: '2000' },
      rules: { type: 'string', default: '0,1000' },
      entry: { type: 'string', default: builtServeEntry() },
      keep: { type: 'boolean', default: false }
    }
  })
  const counts = values.rules.split(',').map(Number)
  const entries = values.entry.split(',').map((entry) => path.resolve(entry))
  const configurations = entries.flatMap((entry) => counts.map((rules) => ({ entry, rules })))
  const results: IdleRss[] = []
  for (let run = 0; run < Number(values.runs); run++) {
    // Alternate which configuration goes first, so a burst of other work lands on all alike.
    for (const { entry, rules } of run % 2 ? [...configurations].reverse() : configurations) {
      const dir = benchDataDir(rules > 0 ? benchProfile(rules) : null)
      try {
        const measured = await measureIdleRss(dir, {
          settleMs: Number(values.settle),
          nodeFlags: positionals,
          snapshot: values.keep,
          entry
        })
        if (rules > 0 && !/profile "Bench"/.test(measured.output))
          throw new Error(`headless did not start with the Bench profile:\n${measured.output}`)
        results.push({ entry, rules, ...measured })
      } finally {
        if (values.keep) console.log(`kept ${dir}`)
        else rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  for (const { entry, rules } of configurations) {
    const runs = results.filter((r) => r.rules === rules && r.entry === entry)
    const rss = runs.map((r) => r.rssMiB)
    if (entries.length > 1) console.log(path.relative(process.cwd(), entry))
    console.log(
      `${String(rules).padStart(5)} rules: RSS median ${median(rss).toFixed(1)} MiB ` +
        `(each: ${rss.map((v) => v.toFixed(1)).join(' ')}), start ${runs.map((r) => r.startMs.toFixed(0)).join(' ')} ms`
    )
  }
}
