/**
 * What an idle CONNECT tunnel costs headless Junction (issue 14: RSS with 5,000 idle tunnels ≤ 150 MiB).
 *
 *   node bench/tunnel-memory.ts [--tunnels 5000] [--runs 3] [--snapshot /tmp/tunnels.heapsnapshot]
 *                               [--entry other-tree/out/main/serve.js]
 *
 * Each run starts the built headless entry (out/main/serve.js, `npm run build` first; `--entry` another
 * build, to compare) as the peers benchmark does — fresh data directory, 1,000 rules, statistics and
 * the request log file on — waits for it to idle, opens the tunnels (100 at a time) to an origin in this
 * process that accepts and stays silent, and reads the proxy's RSS:
 * - before any traffic, and 2 s after the last tunnel opened (the peers benchmark's figure);
 * - 10 s after, once the proxy has been idle long enough to give memory back (memory-return.ts);
 * - after a full collection that gives the heap's free pages back (tunnel-memory-probe.mjs), with its V8
 *   heap used and external memory: the least the tunnels can cost. Per tunnel: the difference from the
 *   same reading before any traffic, divided by the number of tunnels;
 * - 20 s after the tunnels closed (the peers benchmark's figure), and after such a collection then.
 * `--snapshot` writes a heap snapshot of the proxy with the tunnels open (first run only), for DevTools'
 * Memory tab.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { builtServeEntry, servedNodeFlags } from './built-serve.ts'
import { ENGINE_RULES } from './child-common.ts'
import { generateProfile } from './generate-rules.ts'
import { openIdleTunnel } from './peers-load.ts'
import { rssKiB } from './proc.ts'

const PROBE = fileURLToPath(new URL('./tunnel-memory-probe.mjs', import.meta.url))
/** Tunnels opened at once: more would overflow the proxy's accept backlog for no gain. */
const OPEN_BATCH = 100
/** As the peers benchmark: RSS read this long after the last tunnel opened. */
const SETTLE_MS = 2000
/** Before traffic: headless mode has finished starting and has been idle for a while. */
const IDLE_SETTLE_MS = 5000
/** Long enough for an idle proxy to have given memory back (memory-return.ts looks every second). */
const LATER_MS = 10_000
const START_TIMEOUT_MS = 30_000
/** As the peers benchmark: RSS read this long after the tunnels closed. */
const CLOSED_SETTLE_MS = 20_000
const MIB = 1024 * 1024

interface Measured {
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
}

interface RunFigures {
  tunnels: number
  /** RSS as it is (MiB): before traffic, 2 s and 10 s after the last tunnel opened. */
  idleRssMiB: number
  openRssMiB: number
  laterRssMiB: number
  /** RSS as it is 20 s after the tunnels closed. */
  closedRssMiB: number
  /** After the shrinking collection: before traffic, with the tunnels open, after they closed. */
  idle: Measured
  open: Measured
  closed: Measured
}

/** The proxy process, with a channel to its probe. */
class Proxy {
  readonly child: ChildProcess
  readonly port: number
  private readonly dataDir: string

  private constructor(child: ChildProcess, port: number, dataDir: string) {
    this.child = child
    this.port = port
    this.dataDir = dataDir
  }

  static async start(entry: string): Promise<Proxy> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'junction-tunnel-memory-'))
    const profile = generateProfile(ENGINE_RULES, 1)
    writeFileSync(path.join(dataDir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [profile] }))
    writeFileSync(
      path.join(dataDir, 'settings.json'),
      JSON.stringify({ version: 1, activeProfileId: profile.id, requestLogFile: true })
    )
    const args = [...servedNodeFlags(), '--expose-gc', '--import', PROBE, entry]
    const child = spawn(
      process.execPath,
      [...args, '--port', '0', '--data-dir', dataDir, '--system-proxy', 'off'],
      { stdio: ['pipe', 'pipe', 'inherit', 'ipc'] }
    )
    const port = await new Promise<number>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(() => reject(new Error(`headless did not start: ${output}`)), START_TIMEOUT_MS)
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        const port = /proxy listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]
        if (port && /dashboard: http/.test(output)) {
          clearTimeout(timer)
          resolve(Number(port))
        }
      })
      child.once('exit', (code) => reject(new Error(`headless exited (${code}): ${output}`)))
    })
    return new Proxy(child, port, dataDir)
  }

  rssMiB(): number {
    return rssKiB(this.child.pid!) / 1024
  }

  /** Figures after a collection that gives the heap's free pages back. */
  measure(): Promise<Measured> {
    return this.ask({ type: 'measure' }, 'measured') as Promise<Measured>
  }

  async snapshot(file: string): Promise<string> {
    return ((await this.ask({ type: 'snapshot', file }, 'snapshot')) as { file: string }).file
  }

  private ask(message: object, answer: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${answer} from the proxy`)), 120_000)
      const onMessage = (reply: { type: string }): void => {
        if (reply.type !== answer) return
        clearTimeout(timer)
        this.child.off('message', onMessage)
        resolve(reply)
      }
      this.child.on('message', onMessage)
      this.child.send(message)
    })
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.kill('SIGTERM')
    const force = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(force)
    rmSync(this.dataDir, { recursive: true, force: true })
  }
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function measureRun(entry: string, count: number, snapshotFile: string | null): Promise<RunFigures> {
  // The origin accepts and says nothing: the tunnels stay idle.
  const held = new Set<net.Socket>()
  const origin = net.createServer((socket) => {
    held.add(socket)
    socket.on('error', () => undefined)
    socket.once('close', () => held.delete(socket))
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const originPort = (origin.address() as net.AddressInfo).port
  const proxy = await Proxy.start(entry)
  const tunnels: net.Socket[] = []
  try {
    await settle(IDLE_SETTLE_MS)
    const idleRssMiB = proxy.rssMiB()
    const idle = await proxy.measure()
    for (let opened = 0; opened < count; opened += OPEN_BATCH) {
      const batch = Math.min(OPEN_BATCH, count - opened)
      tunnels.push(
        ...(await Promise.all(Array.from({ length: batch }, () => openIdleTunnel(proxy.port, originPort))))
      )
    }
    await settle(SETTLE_MS)
    const openRssMiB = proxy.rssMiB()
    await settle(LATER_MS - SETTLE_MS)
    const laterRssMiB = proxy.rssMiB()
    const open = await proxy.measure()
    if (held.size !== count) throw new Error(`the origin holds ${held.size} connections, not ${count}`)
    if (snapshotFile) console.log(`heap snapshot: ${await proxy.snapshot(snapshotFile)}`)
    for (const socket of tunnels.splice(0)) socket.destroy()
    await settle(CLOSED_SETTLE_MS)
    const closedRssMiB = proxy.rssMiB()
    const closed = await proxy.measure()
    return { tunnels: count, idleRssMiB, openRssMiB, laterRssMiB, closedRssMiB, idle, open, closed }
  } finally {
    for (const socket of tunnels) socket.destroy()
    await proxy.stop()
    for (const socket of held) socket.destroy()
    await new Promise((resolve) => origin.close(resolve))
  }
}

function report(run: number, f: RunFigures): void {
  const mib = (bytes: number): string => (bytes / MIB).toFixed(1)
  const shrunk = (key: keyof Measured): string =>
    `${mib(f.idle[key])} → ${mib(f.open[key])} MiB (${((f.open[key] - f.idle[key]) / f.tunnels / 1024).toFixed(1)} KiB per tunnel)`
  const perTunnel = (((f.openRssMiB - f.idleRssMiB) * 1024) / f.tunnels).toFixed(1)
  console.log(
    `run ${run}, ${f.tunnels} tunnels: RSS ${f.idleRssMiB.toFixed(1)} → ${f.openRssMiB.toFixed(1)} MiB at 2 s ` +
      `(${perTunnel} KiB per tunnel), ${f.laterRssMiB.toFixed(1)} MiB at 10 s; after a shrinking GC: ` +
      `RSS ${shrunk('rss')}, heap used ${shrunk('heapUsed')}, external ${shrunk('external')}; ` +
      `20 s after they closed: RSS ${f.closedRssMiB.toFixed(1)} MiB, ${mib(f.closed.rss)} MiB after a shrinking GC`
  )
}

const { values } = parseArgs({
  options: {
    tunnels: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '3' },
    snapshot: { type: 'string' },
    entry: { type: 'string' }
  }
})
const entry = values.entry ? path.resolve(values.entry) : builtServeEntry()
const count = Number(values.tunnels)
const runs = Number(values.runs)
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(runs) || runs < 1)
  throw new Error('--tunnels and --runs take positive whole numbers')
for (let run = 1; run <= runs; run++)
  report(run, await measureRun(entry, count, run === 1 ? (values.snapshot ?? null) : null))
