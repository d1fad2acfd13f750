/**
 * The composition root: builds one Junction — stores, engine, statistics, history, request log,
 * system proxy and the service — from a data directory. The desktop entry (main/index.ts) and the
 * headless CLI (main/app/cli.ts) both call `startRuntime` and hand the same `service` to every UI they
 * run (window, tray, dashboard), so a change made in one is seen by all. Never imports Electron:
 * desktop-only effects come in through `onSettingsChanged`.
 */
import path from 'node:path'
import type { AppApi, SystemProxyMode } from '../../common/ipc-contract.ts'
import type { EngineState, Settings } from '../../common/model.ts'
import { checkDataDir } from '../config/data-dir.ts'
import { SettingsStore } from '../config/settings-store.ts'
import { ProxyEngine } from '../engine/engine.ts'
import { LocalAuthority } from '../intercept/authority.ts'
import { ExchangeStore } from '../inspect/exchange-store.ts'
import { ProfileStore } from '../profiles/profile-store.ts'
import type { SecretCodec } from '../profiles/secrets.ts'
import { createJunctionService } from '../services/junction-service.ts'
import { SharedPorts } from '../services/shared-ports.ts'
import { probeLatency } from '../services/upstream-test.ts'
import { createNameResolver } from '../stats/display-names.ts'
import { HistoryStore } from '../stats/history-store.ts'
import { MemoryReturn } from '../stats/memory-return.ts'
import { RequestLogFile, RequestRing } from '../stats/request-log.ts'
import { RuleHits } from '../stats/rule-hits.ts'
import { TrafficStats } from '../stats/traffic-stats.ts'
import { attachSystemProxy } from '../sysproxy/attach.ts'
import { PacPublisher } from '../sysproxy/pac.ts'
import { headlessWatchdog, type WatchdogLauncher } from '../sysproxy/watchdog-launch.ts'
import type { RuntimeParts } from './parts.ts'

export interface RuntimeOptions {
  dataDir: string
  /** Overrides the saved port for this run (0: any free port). */
  port?: number
  /** Name or id of the profile to start with, instead of the saved active one; unknown names throw. */
  profile?: string
  /** Overrides the saved system-proxy mode for this run. */
  systemProxy?: SystemProxyMode
  /** Seals upstream passwords and the CA's private key on disk (the desktop app passes the OS keychain). */
  secrets?: SecretCodec | null
  log?: (line: string) => void
  /** Runs after every saved settings change, whichever UI made it (the desktop applies start at login). */
  onSettingsChanged?: (settings: Settings) => void
  /** Runs the system-proxy watchdog where no shell can (Windows); headless: this Node, desktop: its own binary. */
  watchdog?: WatchdogLauncher
}

export interface Runtime extends RuntimeParts {
  /** The one implementation of the UI contract; IPC, the tray and the dashboard all call this object. */
  service: AppApi
  /** Gives back the memory starting took (memory-return.ts); for once every UI is up. */
  settle(): void
  /** Restores the system proxy, stops the engine (closing connections) and saves history. */
  stop(): Promise<void>
}

/** The engine's timeouts in milliseconds, from settings.json's seconds. */
export function engineTimeouts(timeouts: Settings['timeouts']) {
  return {
    connectMs: timeouts.connectSeconds * 1000,
    responseHeadersMs: timeouts.responseHeadersSeconds * 1000,
    idleTunnelMs: timeouts.idleTunnelSeconds * 1000,
    idleClientMs: timeouts.idleClientSeconds * 1000
  }
}

function describeState(state: EngineState): string {
  switch (state.status) {
    case 'running':
      return `proxy listening on http://${state.host.includes(':') ? `[${state.host}]` : state.host}:${state.port} — profile "${state.profileName}"`
    case 'failed':
      return `proxy failed: ${state.error}`
    default:
      return `proxy ${state.status}`
  }
}

/** How often traffic history is written to disk: at most this much is lost if Junction is killed. */
function historyFlushMs(): number {
  const fromEnv = Number(process.env.JUNCTION_HISTORY_FLUSH_MS)
  return Number.isInteger(fromEnv) && fromEnv >= 100 ? fromEnv : 15_000
}

const toMiB = (bytes: number): string => (bytes / 2 ** 20).toFixed(0)

/**
 * A problem report on one log line: it quotes names from the user's files, and a rule named
 * "x\n[junction] proxy listening on …" must not print a line of its own.
 */
const oneLine = (text: string): string =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1))

/** The request log file, or null (said once) when it cannot be written; the in-memory log still works. */
async function openRequestLog(dataDir: string, log: (line: string) => void): Promise<RequestLogFile | null> {
  const logFile = new RequestLogFile({ dir: path.join(dataDir, 'logs'), onError: log })
  try {
    await logFile.open()
    return logFile
  } catch (error) {
    log(`warning: the request log is not written to a file this run: ${(error as Error).message}`)
    return null
  }
}

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const log = options.log ?? ((line: string) => console.log(`[junction] ${line}`))
  const { dataDir } = options
  log(`data directory: ${dataDir}`)
  // A path that is a file holds nothing to read and takes nothing to save: the user almost surely
  // meant another --data-dir, so stop and say so rather than run on defaults that vanish at exit.
  // An unwritable directory still holds the user's configuration: run with it, and say once what
  // will not be kept.
  const dirState = await checkDataDir(dataDir)
  if (dirState.usable === 'no') throw new Error(dirState.message)
  const readOnly = dirState.usable === 'read-only'
  // When nothing in it can be read, each file would only repeat this warning: say it once, here.
  const unreadable = dirState.usable === 'read-only' && !dirState.readable
  if (readOnly)
    log(
      unreadable
        ? `warning: the data directory ${dataDir} can be neither read nor written (${dirState.reason}): running on default settings and no profiles; nothing will be saved`
        : `warning: the data directory ${dataDir} is not writable (${dirState.reason}): running with the settings and profiles it holds, but settings and profile changes, traffic history and the request log will not be saved`
    )
  const settingsOpened = await SettingsStore.open(dataDir)
  const profilesOpened = await ProfileStore.open(dataDir, options.secrets ?? null)
  for (const problem of [settingsOpened.problem, profilesOpened.problem])
    if (problem && !unreadable) log(`config problem: ${oneLine(problem)}`)
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

  const historyOpened = await HistoryStore.open(dataDir)
  if (historyOpened.problem && !unreadable) log(`history problem: ${oneLine(historyOpened.problem)}`)
  const history = historyOpened.store
  const ring = new RequestRing(5000)
  const logFile = settings.requestLogFile && !readOnly ? await openRequestLog(dataDir, log) : null
  const names = createNameResolver(() => profiles.list())
  const stats = new TrafficStats({ history, ring, logFile, names })
  const ruleHits = new RuleHits()

  // Listen address, credentials, timeouts and Via are read here only: a change is saved and applies
  // from the next start (the Settings view says so).
  const pac = new PacPublisher()
  // Opened, not created: the CA's files appear when a rule first intercepts a tunnel or Settings
  // first shows the CA, so a user who never intercepts never gets one.
  const authority = LocalAuthority.open(dataDir, {
    codec: options.secrets ?? null,
    onProblem: (problem) => log(`certificate authority problem: ${problem}`)
  })
  // Off until the Inspect view first asks for it (setInspectRecording): recording costs CPU on every
  // request, which users who never look should not pay.
  const exchanges = new ExchangeStore()
  const engine = new ProxyEngine({
    host: settings.listenHost,
    port: options.port ?? settings.port,
    auth: settings.proxyAuth,
    timeouts: engineTimeouts(settings.timeouts),
    via: settings.via,
    trustedCas: settings.trustedCas,
    stats,
    ruleHits,
    pac,
    authority,
    exchanges,
    probe: probeLatency,
    ...(profile ? { profile } : {})
  })
  engine.on('state', (state) => log(describeState(state)))
  engine.on('failure', (error) => log(`request failed unexpectedly: ${error.message}`))
  await engine.start()
  stats.start()
  // After a burst of traffic the heap would keep its peak size until the next one (memory-return.ts).
  const memoryReturn = new MemoryReturn({
    onReturn: (before, after) =>
      log(`traffic paused: memory given back, RSS ${toMiB(before)} → ${toMiB(after)} MiB`)
  })
  memoryReturn.start()
  // Shutdown still tries once: the directory may have been made writable since.
  if (!readOnly) history.startAutoFlush(historyFlushMs(), (message) => log(`history not saved: ${message}`))
  const systemProxy = await attachSystemProxy({
    dataDir,
    settings: { ...settings.systemProxy, mode: options.systemProxy ?? settings.systemProxy.mode },
    engine,
    pac,
    log,
    watchdog: options.watchdog ?? headlessWatchdog()
  })

  const parts: RuntimeParts = {
    dataDir,
    engine,
    profiles,
    settings: settingsStore,
    stats,
    history,
    ring,
    names,
    systemProxy,
    authority,
    exchanges,
    // Shared ports follow the proxy's timeouts and Via setting as saved when each is opened.
    sharedPorts: new SharedPorts(() => {
      const current = settingsStore.get()
      return { timeouts: engineTimeouts(current.timeouts), via: current.via }
    }),
    ruleHits
  }
  return {
    ...parts,
    service: createJunctionService(parts, {
      onSettingsChanged: options.onSettingsChanged,
      overrides: { port: options.port ?? null }
    }),
    settle: () => memoryReturn.settle(),
    async stop() {
      // The OS stops sending traffic here before the proxy goes away.
      await systemProxy.detach()
      memoryReturn.stop()
      await Promise.all([engine.stop(), parts.sharedPorts.stopAll()])
      await stats.stop()
      const saved = await history.stop()
      if (!saved.ok) log(`history not saved: ${saved.error.message}`)
    }
  }
}
