/**
 * Headless mode: the engine with the stored configuration, no window. Used by `npm run serve`, by
 * `npm start` where no desktop can be shown, and by tests that need a whole Junction process.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { startDashboard, type Dashboard } from './dashboard/dashboard-server.ts'
import { forwardEvents } from './ipc/events.ts'
import { createJunctionService } from './services/junction-service.ts'
import { ProfileStore } from './profiles/profile-store.ts'
import type { SecretCodec } from './profiles/secrets.ts'
import { SettingsStore } from './config/settings-store.ts'
import { defaultDataDir } from './config/data-dir.ts'
import { ProxyEngine, type EngineState } from './engine/engine.ts'
import { HistoryStore } from './stats/history-store.ts'
import { RequestLogFile, RequestRing } from './stats/request-log.ts'
import { TrafficStats } from './stats/traffic-stats.ts'
import { attachSystemProxy, type AttachedSystemProxy } from './sysproxy/attach.ts'
import { PacPublisher } from './sysproxy/pac.ts'

export interface HeadlessOptions {
  port?: number
  profile?: string
  dataDir: string
  /** Overrides the saved system-proxy mode for this run. */
  systemProxy?: 'off' | 'manual' | 'pac'
  /** Seals upstream passwords on disk (the desktop app passes the OS keychain). */
  secrets?: SecretCodec | null
  /** Port of the web dashboard (0: any free port); null turns the dashboard off. */
  dashboardPort?: number | null
}

/** The built UI (electron-vite build), served by the dashboard. */
const RENDERER_DIR = path.resolve(import.meta.dirname, '../out/renderer')

export const USAGE =
  'Usage: npm run serve -- [--port N] [--profile NAME] [--data-dir DIR] [--system-proxy off|manual|pac] [--dashboard-port N | --no-dashboard]'

/** Reads `--port`, `--profile` and `--data-dir`; throws with a usage line on anything else. */
export function parseHeadlessArgs(argv: string[]): HeadlessOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      profile: { type: 'string' },
      'data-dir': { type: 'string' },
      'system-proxy': { type: 'string' },
      'dashboard-port': { type: 'string' },
      'no-dashboard': { type: 'boolean' }
    },
    strict: true,
    allowPositionals: false
  })
  const options: HeadlessOptions = { dataDir: values['data-dir'] ?? defaultDataDir() }
  if (values.port !== undefined) {
    const port = Number(values.port)
    if (!/^\d+$/.test(values.port) || port > 65535)
      throw new Error(`--port must be 0–65535 (was "${values.port}")`)
    options.port = port
  }
  if (values.profile !== undefined) options.profile = values.profile
  const mode = values['system-proxy']
  if (mode !== undefined) {
    if (mode !== 'off' && mode !== 'manual' && mode !== 'pac')
      throw new Error(`--system-proxy must be off, manual or pac (was "${mode}")`)
    options.systemProxy = mode
  }
  const dashboard = values['dashboard-port']
  if (dashboard !== undefined) {
    if (!/^\d+$/.test(dashboard) || Number(dashboard) > 65535)
      throw new Error(`--dashboard-port must be 0–65535 (was "${dashboard}")`)
    options.dashboardPort = Number(dashboard)
  }
  if (values['no-dashboard']) options.dashboardPort = null
  return options
}

export function describeState(state: EngineState): string {
  switch (state.status) {
    case 'running':
      return `proxy listening on http://${state.host.includes(':') ? `[${state.host}]` : state.host}:${state.port} — profile "${state.profileName}"`
    case 'failed':
      return `proxy failed: ${state.error}`
    default:
      return `proxy ${state.status}`
  }
}

export interface HeadlessHandle {
  dataDir: string
  engine: ProxyEngine
  profiles: ProfileStore
  settings: SettingsStore
  stats: TrafficStats
  history: HistoryStore
  ring: RequestRing
  systemProxy: AttachedSystemProxy
  stop(): Promise<void>
}

/** How often traffic history is written to disk: at most this much is lost if Junction is killed. */
function historyFlushMs(): number {
  const fromEnv = Number(process.env.JUNCTION_HISTORY_FLUSH_MS)
  return Number.isInteger(fromEnv) && fromEnv >= 100 ? fromEnv : 15_000
}

export async function startHeadless(
  options: HeadlessOptions,
  log: (line: string) => void = (line) => console.log(`[junction] ${line}`)
): Promise<HeadlessHandle> {
  log(`data directory: ${options.dataDir}`)
  const settingsOpened = await SettingsStore.open(options.dataDir)
  const profilesOpened = await ProfileStore.open(options.dataDir, options.secrets ?? null)
  for (const problem of [settingsOpened.problem, profilesOpened.problem])
    if (problem) log(`config problem: ${problem}`)
  const settingsStore = settingsOpened.store
  const settings = settingsStore.get()
  const profiles = profilesOpened.store

  const wanted = options.profile ?? settings.activeProfileId
  const profile =
    profiles.get(wanted) ?? profiles.list().find((p) => p.name.toLowerCase() === wanted.toLowerCase())
  if (!profile) {
    const known = profiles
      .list()
      .map((p) => `"${p.name}"`)
      .join(', ')
    if (options.profile !== undefined)
      throw new Error(`No profile named "${options.profile}". Profiles: ${known}`)
    log(`the active profile "${wanted}" no longer exists; using Direct`)
  }

  const historyOpened = await HistoryStore.open(options.dataDir)
  if (historyOpened.problem) log(`history problem: ${historyOpened.problem}`)
  const history = historyOpened.store
  const ring = new RequestRing(5000)
  let logFile: RequestLogFile | null = null
  if (settings.requestLogFile) {
    logFile = new RequestLogFile({ dir: path.join(options.dataDir, 'logs') })
    await logFile.open()
  }
  const stats = new TrafficStats({ history, ring, logFile })

  const pac = new PacPublisher()
  const engine = new ProxyEngine({
    host: settings.listenHost,
    port: options.port ?? settings.port,
    auth: settings.proxyAuth,
    stats,
    pac,
    ...(profile ? { profile } : {})
  })
  engine.on('state', (state) => log(describeState(state)))
  engine.on('failure', (error) => log(`request failed unexpectedly: ${error.message}`))
  await engine.start()
  stats.start()
  history.startAutoFlush(historyFlushMs(), (message) => log(`history not saved: ${message}`))
  const systemProxySettings = {
    ...settings.systemProxy,
    mode: options.systemProxy ?? settings.systemProxy.mode
  }
  const sysproxy = await attachSystemProxy({
    dataDir: options.dataDir,
    settings: systemProxySettings,
    engine,
    pac,
    log
  })
  return {
    dataDir: options.dataDir,
    engine,
    profiles,
    settings: settingsStore,
    stats,
    history,
    ring,
    systemProxy: sysproxy,
    async stop() {
      // The OS stops sending traffic here before the proxy goes away.
      await sysproxy.detach()
      await engine.stop()
      await stats.stop()
      const saved = await history.stop()
      if (!saved.ok) log(`history not saved: ${saved.error.message}`)
    }
  }
}

/** Entry point for `npm run serve`: runs until SIGINT or SIGTERM, then closes every connection. */
export async function main(argv: string[]): Promise<void> {
  let options: HeadlessOptions
  try {
    options = parseHeadlessArgs(argv)
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`)
    process.exitCode = 2
    return
  }
  let handle: HeadlessHandle
  try {
    handle = await startHeadless(options)
  } catch (error) {
    console.error(`[junction] ${(error as Error).message}`)
    process.exitCode = 1
    return
  }
  let dashboard: Dashboard | null = null
  if (options.dashboardPort !== null) {
    try {
      dashboard = await startDashboard({
        api: createJunctionService(handle),
        staticDir: RENDERER_DIR,
        port: options.dashboardPort ?? 0
      })
      forwardEvents(handle, dashboard.broadcast)
      const built = await fs.access(path.join(RENDERER_DIR, 'index.html')).then(
        () => true,
        () => false
      )
      console.log(
        `[junction] dashboard: ${dashboard.url}${built ? '' : ' (the UI is not built yet: run npm run build)'}`
      )
    } catch (error) {
      console.error(`[junction] dashboard not started: ${(error as Error).message}`)
    }
  }
  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`[junction] ${signal}: shutting down`)
    // Connections are closed forcibly, so this is quick; the cap only guards against the unexpected.
    const cap = setTimeout(() => process.exit(1), 3000)
    cap.unref()
    void Promise.all([dashboard?.close(), handle.stop()]).then(() => clearTimeout(cap))
  }
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.once('SIGTERM', () => shutdown('SIGTERM'))
}
