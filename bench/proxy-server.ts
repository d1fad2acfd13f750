/**
 * Child process for the throughput benchmark: `node bench/proxy-server.ts bare|engine|engine-stats ...`.
 * With several variants, it runs each on its own port in this one process (see interleaved.ts).
 *
 * `bare` is proxy-chain as it ships, `engine` is Junction's ProxyEngine with 1,000 rules (none of which
 * match 127.0.0.1, so traffic takes the default direct route after a full lookup), `engine-stats` the same
 * engine with statistics and logging on. The load generator never shares this process's event loop.
 * Prints `{"port":N,"ports":[N,…]}` once listening.
 *
 * With BENCH_CPU_PROFILE=<file> (set by profile.ts), SIGUSR2 starts V8's sampling profiler and shutdown
 * writes the profile to <file>, so that start-up and JIT warm-up can be left out of it.
 */
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Session } from 'node:inspector/promises'
import { Server } from 'proxy-chain'
import { ProxyEngine } from '../main/engine/engine.ts'
import { HistoryStore } from '../main/stats/history-store.ts'
import { RequestLogFile, RequestRing } from '../main/stats/request-log.ts'
import { TrafficStats } from '../main/stats/traffic-stats.ts'
import { announcePort, ENGINE_RULES, exitOnSignalOrOrphan } from './child-common.ts'
import { generateProfile } from './generate-rules.ts'

/** Sampling interval: fine enough to see per-request costs of a few microseconds in a 10 s profile. */
const PROFILE_INTERVAL_US = 250

/** Returns what to run at shutdown: writes the profile if one was started. */
function profilerControl(file: string | undefined): () => Promise<void> {
  if (!file) return async () => {}
  const session = new Session()
  session.connect()
  let started: Promise<void> | null = null
  // Installed before the port is announced, so the signal never meets Node's default (terminate).
  process.on('SIGUSR2', () => {
    started ??= (async () => {
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US })
      await session.post('Profiler.start')
    })()
  })
  return async () => {
    if (!started) return
    await started
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
  }
}

/**
 * Statistics and logging as headless mode runs them: live accounting ticking every second, history
 * flushed to disk, the in-memory request log and the request log file, in a temporary data directory.
 */
async function startAccounting(): Promise<{ stats: TrafficStats; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'junction-bench-'))
  const { store: history } = await HistoryStore.open(dir)
  const logFile = new RequestLogFile({ dir: path.join(dir, 'logs') })
  await logFile.open()
  const stats = new TrafficStats({ history, ring: new RequestRing(5000), logFile })
  stats.start()
  history.startAutoFlush(15_000, (message) => console.error(`history: ${message}`))
  return {
    stats,
    async stop() {
      await stats.stop()
      await history.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Starts one variant's server on a free port; returns its port and how to close it. */
async function startVariant(variant: string): Promise<{ port: number; close(): Promise<void> }> {
  if (variant === 'bare') {
    const server = new Server({ host: '127.0.0.1', port: 0 })
    await server.listen()
    return { port: server.port, close: () => server.close(true) }
  }
  if (variant === 'engine' || variant === 'engine-stats') {
    const accounting = variant === 'engine-stats' ? await startAccounting() : null
    const engine = new ProxyEngine({
      host: '127.0.0.1',
      port: 0,
      profile: generateProfile(ENGINE_RULES, 1),
      stats: accounting?.stats ?? null
    })
    // The desktop app and headless mode always listen for failures; an unhandled 'failure' is not the
    // engine's cost, but must still be seen if it happens.
    engine.on('failure', (error) => console.error(`engine failure: ${error.message}`))
    await engine.start()
    return {
      port: engine.port!,
      async close() {
        await engine.stop()
        await accounting?.stop()
      }
    }
  }
  throw new Error(
    `usage: node bench/proxy-server.ts VARIANT... with bare, engine, engine-stats (was ${variant})`
  )
}

async function main(variants: string[]): Promise<void> {
  if (variants.length === 0) throw new Error('usage: node bench/proxy-server.ts VARIANT...')
  const writeProfile = profilerControl(process.env.BENCH_CPU_PROFILE)
  const servers: { port: number; close(): Promise<void> }[] = []
  for (const variant of variants) servers.push(await startVariant(variant))
  exitOnSignalOrOrphan(async () => {
    await writeProfile()
    for (const server of servers) await server.close()
  })
  announcePort(
    servers[0]!.port,
    servers.map((server) => server.port)
  )
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
