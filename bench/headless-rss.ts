/**
 * Baseline memory of headless mode: the resident memory (VmRSS) of every process `npm run serve`
 * leaves running — the whole process tree — once the proxy and its dashboard listen and have idled for
 * a few seconds, with no traffic. `current` is this tree's built entry (one process, out/main/serve.js); `previous` is the
 * engine before the request pipeline, started as it was then (a wrapper process spawning a second
 * Node for main/serve.ts). The two are started alternately, each in a fresh data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { previousTree } from './previous-engine.ts'
import { treeRss } from './proc.ts'
import { builtServeEntry, servedNodeFlags } from './built-serve.ts'

export interface HeadlessRss {
  variant: 'current' | 'previous'
  processes: number
  rssMiB: number
}

const SETTLE_MS = 5000

function command(variant: HeadlessRss['variant'], dataDir: string): [string, string[]] {
  const args = ['--port', '0', '--data-dir', dataDir, '--system-proxy', 'off']
  if (variant === 'current') return [process.execPath, [...servedNodeFlags(), builtServeEntry(), ...args]]
  const previous = previousTree()
  return [
    process.execPath,
    [path.join(previous, 'scripts/run-ts.mjs'), path.join(previous, 'main/serve.ts'), ...args]
  ]
}

async function measureOnce(variant: HeadlessRss['variant']): Promise<HeadlessRss> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'junction-rss-'))
  const [file, args] = command(variant, dataDir)
  const child: ChildProcess = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(
        () => reject(new Error(`${variant} headless did not start: ${output}`)),
        30_000
      )
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (/dashboard: http/.test(output)) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => reject(new Error(`${variant} headless exited (${code}): ${output}`)))
    })
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
    const { kib, processes } = treeRss(child.pid!)
    return { variant, processes, rssMiB: kib / 1024 }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** `runs` of each, alternating which goes first. */
export async function measureHeadlessRss(runs: number): Promise<HeadlessRss[]> {
  const results: HeadlessRss[] = []
  for (let i = 0; i < runs; i++) {
    const order: HeadlessRss['variant'][] = i % 2 === 0 ? ['previous', 'current'] : ['current', 'previous']
    for (const variant of order) results.push(await measureOnce(variant))
  }
  return results
}
