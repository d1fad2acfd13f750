/**
 * Child process for the throughput benchmark: `node bench/proxy-server.ts bare|engine|engine-stats ...`.
 * With several variants, it runs each on its own port in this one process (see interleaved.ts).
 *
 * `bare` is proxy-chain as it ships, `engine` is Junction's ProxyEngine with 1,000 rules (none of which
 * match 127.0.0.1, so traffic takes the default direct route after a full lookup), `engine-stats` the same
 * engine with statistics and logging on, and `previous-stats` the engine before the request pipeline
 * (previous-engine.ts, its tree in BENCH_PREVIOUS_DIR) with its own statistics and logging on. The load generator never shares this process's event loop.
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
async function startAccounting(
  modules: StatsModules = CURRENT
): Promise<{ stats: TrafficStats; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'junction-bench-'))
  const { store: history } = await modules.HistoryStore.open(dir)
  const logFile = new modules.RequestLogFile({ dir: path.join(dir, 'logs') })
  await logFile.open()
  const stats = new modules.TrafficStats({ history, ring: new modules.RequestRing(5000), logFile })
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

interface StatsModules {
  HistoryStore: typeof HistoryStore
  RequestLogFile: typeof RequestLogFile
  RequestRing: typeof RequestRing
  TrafficStats: typeof TrafficStats
}

const CURRENT: StatsModules = { HistoryStore, RequestLogFile, RequestRing, TrafficStats }

/** The previous engine and its statistics modules, from the tree previous-engine.ts unpacked. */
async function previousModules(): Promise<StatsModules & { ProxyEngine: typeof ProxyEngine }> {
  const dir = process.env.BENCH_PREVIOUS_DIR
  if (!dir) throw new Error('previous-stats needs BENCH_PREVIOUS_DIR (set by bench/index.ts)')
  // The previous modules have the current ones' shapes where the benchmark uses them.
  const load = <T>(file: string) => import(path.join(dir, file)) as Promise<T>
  const [engine, history, log, traffic] = await Promise.all([
    load<{ ProxyEngine: typeof ProxyEngine }>('main/engine/engine.ts'),
    load<{ HistoryStore: typeof HistoryStore }>('main/stats/history-store.ts'),
    load<{ RequestLogFile: typeof RequestLogFile; RequestRing: typeof RequestRing }>(
      'main/stats/request-log.ts'
    ),
    load<{ TrafficStats: typeof TrafficStats }>('main/stats/traffic-stats.ts')
  ])
  return {
    ProxyEngine: engine.ProxyEngine,
    HistoryStore: history.HistoryStore,
    RequestLogFile: log.RequestLogFile,
    RequestRing: log.RequestRing,
    TrafficStats: traffic.TrafficStats
  }
}

/** Starts one variant's server on a free port; returns its port and how to close it. */
async function startVariant(variant: string): Promise<{ port: number; close(): Promise<void> }> {
  if (variant === 'bare') {
    const server = new Server({ host: '127.0.0.1', port: 0 })
    await server.listen()
    return { port: server.port, close: () => server.close(true) }
  }
  if (['engine', 'engine-stats', 'previous-stats', 'engine-edits'].includes(variant)) {
    const previous = variant === 'previous-stats' ? await previousModules() : null
    const accounting = variant === 'engine' ? null : await startAccounting(previous ?? CURRENT)
    const Engine = previous?.ProxyEngine ?? ProxyEngine
    const profile = generateProfile(ENGINE_RULES, 1)
    // engine-edits: every response body goes through a find-and-replace (streaming-memory.ts).
    if (variant === 'engine-edits')
      profile.rules.unshift({
        id: 'edit-all',
        enabled: true,
        matchers: [{ type: 'port', value: '1-65535' }],
        action: { type: 'direct' },
        rewrite: { responseBody: [{ find: 'Hello', replace: 'Howdy' }] }
      })
    const engine = new Engine({
      host: '127.0.0.1',
      port: 0,
      profile,
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
    `usage: node bench/proxy-server.ts VARIANT... with bare, engine, engine-stats, engine-edits, previous-stats (was ${variant})`
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
