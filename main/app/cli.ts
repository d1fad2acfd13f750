/**
 * Headless mode's command line (`npm run serve`, and `npm start` where no desktop can be shown): the
 * runtime with the stored configuration, the web dashboard on top of the same service, and a clean
 * stop on SIGINT/SIGTERM. Runs in the process that imports it: no child process.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { SystemProxyMode } from '../../common/ipc-contract.ts'
import { defaultDataDir } from '../config/data-dir.ts'
import { startDashboard, type Dashboard } from '../dashboard/dashboard-server.ts'
import { DashboardTokenStore } from '../dashboard/dashboard-token.ts'
import { forwardEvents } from '../ipc/events.ts'
import { watchLauncher } from '../lifecycle/launcher-watch.ts'
import { ProfileStore } from '../profiles/profile-store.ts'
import { unsealedWarning } from '../profiles/secrets.ts'
import { startRuntime, type Runtime, type RuntimeOptions } from './runtime.ts'
import { headlessWatchdog } from '../sysproxy/watchdog-launch.ts'

export interface CliOptions extends RuntimeOptions {
  /** Port of the web dashboard (0: any free port); null turns the dashboard off. */
  dashboardPort?: number | null
  /** A SwitchyOmega, FoxyProxy, Clash or Junction file whose profiles are added before the proxy starts. */
  importFile?: string
}

/** Where the files headless mode needs live, which differs between the built entry and the sources. */
export interface HeadlessLayout {
  /** The built UI (electron-vite build), served by the dashboard. */
  rendererDir: string
  /** The Node watchdog's entry, for platforms without a shell to run the restore plan (Windows). */
  watchdogScript: string
}

export const USAGE =
  'Usage: npm run serve -- [--port N] [--profile NAME] [--data-dir DIR] [--system-proxy off|manual|pac] [--dashboard-port N | --no-dashboard] [--import FILE]'

/** Reads the command line; throws with a readable message on anything unknown or out of range. */
export function parseCliArgs(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      profile: { type: 'string' },
      'data-dir': { type: 'string' },
      'system-proxy': { type: 'string' },
      'dashboard-port': { type: 'string' },
      'no-dashboard': { type: 'boolean' },
      import: { type: 'string' }
    },
    strict: true,
    allowPositionals: false
  })
  const options: CliOptions = { dataDir: values['data-dir'] ?? defaultDataDir() }
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
    options.systemProxy = mode satisfies SystemProxyMode
  }
  const dashboard = values['dashboard-port']
  if (dashboard !== undefined) {
    if (!/^\d+$/.test(dashboard) || Number(dashboard) > 65535)
      throw new Error(`--dashboard-port must be 0–65535 (was "${dashboard}")`)
    options.dashboardPort = Number(dashboard)
  }
  if (values['no-dashboard']) options.dashboardPort = null
  if (values.import !== undefined) options.importFile = values.import
  return options
}

/**
 * The dashboard with the token kept in the data directory, on the port asked for, else the one it had
 * last time (an open page reconnects there after a restart), else any free port.
 */
async function openDashboard(
  runtime: Runtime,
  port: number | undefined,
  rendererDir: string
): Promise<Dashboard | null> {
  try {
    const tokens = await DashboardTokenStore.open(runtime.dataDir)
    if (tokens.problem) console.log(`[junction] warning: ${tokens.problem}`)
    const start = (at: number) =>
      startDashboard({
        api: runtime.service,
        staticDir: rendererDir,
        port: at,
        token: tokens.token,
        rotateToken: async () => {
          const token = await tokens.rotate()
          if (tokens.problem) console.log(`[junction] warning: ${tokens.problem}`)
          return token
        }
      })
    const saved = port === undefined ? tokens.port : null
    const dashboard = await (saved === null ? start(port ?? 0) : start(saved).catch(() => start(0)))
    await tokens.rememberPort(dashboard.port)
    forwardEvents(runtime, dashboard.broadcast)
    const built = await fs.access(path.join(rendererDir, 'index.html')).then(
      () => true,
      () => false
    )
    console.log(
      `[junction] dashboard: ${dashboard.url}${built ? '' : ' (the UI is not built yet: run npm run build)'}`
    )
    return dashboard
  } catch (error) {
    console.error(`[junction] dashboard not started: ${(error as Error).message}`)
    return null
  }
}

/**
 * `--import FILE`: adds the file's profiles to the data directory before the runtime reads it, so
 * `--profile` can name one of them, and prints what was imported and what was not.
 */
async function importBeforeStart(dataDir: string, file: string): Promise<boolean> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    console.error(`[junction] --import: cannot read ${file}: ${(error as Error).message}`)
    return false
  }
  // Loaded here only: the readers and their YAML parser would otherwise sit in every run's memory.
  const { readImport, saveImported, summaryLines } = await import('../transfer/import-file.ts')
  // The headless runtime keeps passwords without a keychain too (it passes no codec).
  const { store } = await ProfileStore.open(dataDir, null)
  const read = readImport(
    text,
    path.basename(file),
    store.list().map((p) => p.name)
  )
  if (!read.ok) {
    console.error(`[junction] --import: ${read.error.message}`)
    return false
  }
  const saved = await saveImported(store, read.value.profiles)
  if (!saved.ok) {
    console.error(`[junction] --import: nothing was imported: ${saved.error.message}`)
    return false
  }
  for (const line of summaryLines(read.value.summary)) console.log(`[junction] ${line}`)
  return true
}

/** Runs until SIGINT or SIGTERM, then closes every connection; sets `process.exitCode` on failure. */
export async function main(argv: string[], layout: HeadlessLayout): Promise<void> {
  let options: CliOptions
  try {
    options = parseCliArgs(argv)
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`)
    process.exitCode = 2
    return
  }
  // Listened for from the start: a Ctrl+C or SIGTERM that arrives while Junction is still starting
  // (the proxy already listening, the dashboard not yet) must stop it cleanly too, not kill it with the
  // system proxy still pointing at it.
  let shutdown: ((signal: string) => void) | null = null
  let early: string | null = null
  const onSignal = (signal: string): void => {
    if (shutdown) shutdown(signal)
    else early ??= signal
  }
  process.once('SIGINT', () => onSignal('SIGINT'))
  process.once('SIGTERM', () => onSignal('SIGTERM'))
  // A killed `npm run serve` must not leave Junction running on its own with the system proxy set.
  watchLauncher(() => onSignal('the process that started Junction is gone'))
  if (options.importFile !== undefined && !(await importBeforeStart(options.dataDir, options.importFile))) {
    process.exitCode = 1
    return
  }
  let runtime: Runtime
  try {
    runtime = await startRuntime({ ...options, watchdog: headlessWatchdog(layout.watchdogScript) })
  } catch (error) {
    console.error(`[junction] ${(error as Error).message}`)
    process.exitCode = 1
    return
  }
  // The README's promise: without a keychain, Junction says at start that passwords are stored as written.
  console.log(`[junction] ${unsealedWarning(runtime.profiles.unsealedPasswords())}`)
  const dashboard =
    options.dashboardPort === null
      ? null
      : await openDashboard(runtime, options.dashboardPort, layout.rendererDir)
  // Starting is over: what it allocated is garbage now, and an idle proxy would keep its room.
  runtime.settle()
  let stopping = false
  shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`[junction] ${signal}: shutting down`)
    // Connections are closed forcibly, so this is quick; the cap only guards against the unexpected.
    const cap = setTimeout(() => process.exit(1), 3000)
    cap.unref()
    // The dashboard closes last, so open pages see the engine stop before the link drops.
    void runtime
      .stop()
      .finally(() => dashboard?.close())
      .then(() => clearTimeout(cap))
  }
  if (early) shutdown(early)
}
