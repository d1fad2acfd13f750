/**
 * Headless mode's resident memory before any traffic, with no rules and with the peers benchmark's
 * profile (1,000 rules of bench/generate-rules.ts, statistics and the request log file on): the
 * figure issue 14 sets at 90 MiB. Each run is a fresh process of the built entry in a fresh data
 * directory, read once it has started and idled for a while; the two configurations take turns.
 *
 *   node bench/idle-rss.ts [--runs 3] [--settle 2000] [--rules 0,1000] [-- NODE_FLAG…]
 *
 * Node flags after `--` go to the measured process (e.g. `--heapsnapshot-signal=SIGUSR2`), and
 * `--keep` leaves its data directory in place to read a snapshot from.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { builtServeEntry } from './built-serve.ts'
import { generateProfile } from './generate-rules.ts'
import { rssKiB } from './proc.ts'

export interface IdleRss {
  rules: number
  rssMiB: number
  /** How long the process took from spawn to "dashboard: http…". */
  startMs: number
}

/** The data directory the peers benchmark gives Junction, with `rules` rules (none: no profile at all). */
function dataDir(rules: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'junction-idle-rss-'))
  if (rules > 0) {
    const profile = { ...generateProfile(rules, 1), id: 'bench', name: 'Bench' }
    writeFileSync(path.join(dir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [profile] }))
  }
  writeFileSync(
    path.join(dir, 'settings.json'),
    JSON.stringify({ version: 1, ...(rules > 0 ? { activeProfileId: 'bench' } : {}), requestLogFile: true })
  )
  return dir
}

export async function measureIdleRss(
  rules: number,
  settleMs: number,
  nodeFlags: string[] = [],
  keep = false
): Promise<IdleRss> {
  const dir = dataDir(rules)
  const started = performance.now()
  const child = spawn(
    process.execPath,
    [...nodeFlags, builtServeEntry(), '--port', '0', '--data-dir', dir, '--system-proxy', 'off'],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: dir }
  )
  try {
    const startMs = await new Promise<number>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(() => reject(new Error(`headless did not start: ${output}`)), 30_000)
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (/dashboard: http/.test(output)) {
          clearTimeout(timer)
          if (rules > 0 && !/profile "Bench"/.test(output))
            reject(new Error(`headless did not start with the Bench profile:\n${output}`))
          resolve(performance.now() - started)
        }
      })
      child.once('exit', (code) => reject(new Error(`headless exited (${code}): ${output}`)))
    })
    await new Promise((resolve) => setTimeout(resolve, settleMs))
    if (keep) {
      child.kill('SIGUSR2')
      await new Promise((resolve) => setTimeout(resolve, 3000))
    }
    return { rules, rssMiB: rssKiB(child.pid!) / 1024, startMs }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    if (keep) console.log(`kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '3' },
      settle: { type: 'string', default: '2000' },
      rules: { type: 'string', default: '0,1000' },
      keep: { type: 'boolean', default: false }
    }
  })
  const counts = values.rules.split(',').map(Number)
  const results: IdleRss[] = []
  for (let run = 0; run < Number(values.runs); run++) {
    // Alternate which configuration goes first, so a burst of other work lands on both alike.
    const order = run % 2 ? [...counts].reverse() : counts
    for (const rules of order)
      results.push(await measureIdleRss(rules, Number(values.settle), positionals, values.keep))
  }
  for (const rules of counts) {
    const runs = results.filter((r) => r.rules === rules)
    const rss = runs.map((r) => r.rssMiB)
    console.log(
      `${String(rules).padStart(5)} rules: RSS median ${median(rss).toFixed(1)} MiB ` +
        `(each: ${rss.map((v) => v.toFixed(1)).join(' ')}), start ${runs.map((r) => r.startMs.toFixed(0)).join(' ')} ms`
    )
  }
}
