/**
 * What an idle CONNECT tunnel costs headless Junction (issue 14: RSS with 5,000 idle tunnels ≤ 150 MiB).
 *
 *   node bench/tunnel-memory.ts [--tunnels 5000] [--runs 3] [--snapshot /tmp/tunnels.heapsnapshot]
 *
 * Each run starts the built headless entry (out/main/serve.js, `npm run build` first) as the peers
 * benchmark does — fresh data directory, 1,000 rules, statistics and the request log file on — opens
 * the tunnels to an origin in this process that accepts and stays silent, and reads the proxy's RSS 2 s
 * after the last one opened (the peers figure). Then, after full collections in the proxy
 * (tunnel-memory-probe.mjs), its RSS, V8 heap used and external memory, each also per tunnel against
 * the same figures before any traffic. `--snapshot` writes a heap snapshot of the proxy with the tunnels
 * open (first run only), for DevTools' Memory tab.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { builtServeEntry } from './built-serve.ts'
import { ENGINE_RULES } from './child-common.ts'
import { generateProfile } from './generate-rules.ts'
import { rssKiB } from './proc.ts'

const PROBE = fileURLToPath(new URL('./tunnel-memory-probe.mjs', import.meta.url))
/** Tunnels opened at once: more would overflow the proxy's accept backlog for no gain. */
const OPEN_BATCH = 100
/** As the peers benchmark: RSS read this long after the last tunnel opened. */
const SETTLE_MS = 2000
/** Before traffic: headless mode has finished starting and its first collections ran. */
const IDLE_SETTLE_MS = 3000
const START_TIMEOUT_MS = 30_000
const IO_TIMEOUT_MS = 10_000
const MIB = 1024 * 1024

interface Measured {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

interface RunFigures {
  tunnels: number
  /** Raw RSS (no forced collection), MiB: before traffic and 2 s after the last tunnel opened. */
  idleRssMiB: number
  tunnelsRssMiB: number
  /** After full collections, before traffic and with the tunnels open. */
  idle: Measured
  open: Measured
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

  static async start(): Promise<Proxy> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'junction-tunnel-memory-'))
    const profile = generateProfile(ENGINE_RULES, 1)
    writeFileSync(path.join(dataDir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [profile] }))
    writeFileSync(
      path.join(dataDir, 'settings.json'),
      JSON.stringify({ version: 1, activeProfileId: profile.id, requestLogFile: true })
    )
    const args = ['--expose-gc', '--import', PROBE, builtServeEntry()]
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

  /** Figures after full collections in the proxy. */
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

/** One CONNECT through the proxy, resolved once answered 200. */
function openTunnel(proxyPort: number, originPort: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1')
    const timer = setTimeout(() => fail(new Error('no tunnel within 10 s')), IO_TIMEOUT_MS)
    const fail = (error: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      reject(error)
    }
    socket.once('error', fail)
    socket.once('connect', () =>
      socket.write(`CONNECT 127.0.0.1:${originPort} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`)
    )
    let head = ''
    socket.on('data', function onData(chunk: Buffer) {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      if (!head.startsWith('HTTP/1.1 200'))
        return fail(new Error(`CONNECT answered "${head.split('\r\n')[0]}"`))
      clearTimeout(timer)
      socket.off('error', fail)
      socket.on('error', () => undefined)
      resolve(socket)
    })
  })
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function measureRun(count: number, snapshotFile: string | null): Promise<RunFigures> {
  // The origin accepts and says nothing: the tunnels stay idle.
  const held = new Set<net.Socket>()
  const origin = net.createServer((socket) => {
    held.add(socket)
    socket.on('error', () => undefined)
    socket.once('close', () => held.delete(socket))
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const originPort = (origin.address() as net.AddressInfo).port
  const proxy = await Proxy.start()
  const tunnels: net.Socket[] = []
  try {
    await settle(IDLE_SETTLE_MS)
    const idleRssMiB = proxy.rssMiB()
    const idle = await proxy.measure()
    for (let opened = 0; opened < count; opened += OPEN_BATCH) {
      const batch = Math.min(OPEN_BATCH, count - opened)
      tunnels.push(
        ...(await Promise.all(Array.from({ length: batch }, () => openTunnel(proxy.port, originPort))))
      )
    }
    await settle(SETTLE_MS)
    const tunnelsRssMiB = proxy.rssMiB()
    const open = await proxy.measure()
    if (held.size !== count) throw new Error(`the origin holds ${held.size} connections, not ${count}`)
    if (snapshotFile) console.log(`heap snapshot: ${await proxy.snapshot(snapshotFile)}`)
    return { tunnels: count, idleRssMiB, tunnelsRssMiB, idle, open }
  } finally {
    for (const socket of tunnels) socket.destroy()
    await proxy.stop()
    for (const socket of held) socket.destroy()
    await new Promise((resolve) => origin.close(resolve))
  }
}

function report(run: number, f: RunFigures): void {
  const perTunnel = (key: keyof Measured): string =>
    `${((f.open[key] - f.idle[key]) / f.tunnels / 1024).toFixed(1)} KiB`
  const mib = (bytes: number): string => (bytes / MIB).toFixed(1)
  console.log(
    `run ${run}: RSS ${f.idleRssMiB.toFixed(1)} → ${f.tunnelsRssMiB.toFixed(1)} MiB with ${f.tunnels} tunnels ` +
      `(${(((f.tunnelsRssMiB - f.idleRssMiB) * 1024) / f.tunnels).toFixed(1)} KiB per tunnel); after GC: ` +
      `RSS ${mib(f.idle.rss)} → ${mib(f.open.rss)} MiB (${perTunnel('rss')}), ` +
      `heap used ${mib(f.idle.heapUsed)} → ${mib(f.open.heapUsed)} MiB (${perTunnel('heapUsed')}), ` +
      `external ${mib(f.idle.external)} → ${mib(f.open.external)} MiB (${perTunnel('external')})`
  )
}

const { values } = parseArgs({
  options: {
    tunnels: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '3' },
    snapshot: { type: 'string' }
  }
})
const count = Number(values.tunnels)
const runs = Number(values.runs)
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(runs) || runs < 1)
  throw new Error('--tunnels and --runs take positive whole numbers')
for (let run = 1; run <= runs; run++)
  report(run, await measureRun(count, run === 1 ? (values.snapshot ?? null) : null))
