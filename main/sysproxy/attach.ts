/**
 * Wires the system proxy to a running engine: restores what an unclean exit left behind, keeps the
 * PAC file current, turns the OS proxy on when asked, and puts it back when the engine stops or fails.
 */
import path from 'node:path'
import type { Profile, Settings } from '../../common/model.ts'
import type { ProxyEngine } from '../engine/engine.ts'
import { detectPlatform } from './detect.ts'
import { defaultBypass, desiredProxy } from './desired.ts'
import type { PacPublisher } from './pac.ts'
import { shellCommands } from './shell-commands.ts'
import type { ShellCommandSet, SystemProxyMode, SystemProxyStatus } from '../../common/ipc-contract.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { SystemProxy } from './system-proxy.ts'
import type { SystemProxyPlatform } from './types.ts'
import { watchdogs, type WatchdogLauncher } from './watchdog-launch.ts'

export const JOURNAL_FILE = 'sysproxy-journal.json'

export interface AttachOptions {
  dataDir: string
  settings: Settings['systemProxy']
  engine: ProxyEngine
  pac: PacPublisher
  log: (line: string) => void
  /** Overrides detection (tests, or a platform chosen by the desktop shell). */
  platform?: SystemProxyPlatform | null
  /**
   * How to start the Node watchdog, which restores the settings if Junction dies where the platform
   * has no restore plan for the shell watchdog (Windows); null: no watchdog at all (tests).
   */
  watchdog?: WatchdogLauncher | null
}

export interface AttachedSystemProxy {
  systemProxy: SystemProxy | null
  status(): SystemProxyStatus
  /** Turns the OS proxy on in a mode, or off; the result says what happened. */
  setMode(mode: SystemProxyMode): Promise<Result<SystemProxyStatus>>
  shellCommands(): ShellCommandSet | null
  /** Restores the OS settings (if Junction changed them). */
  detach(): Promise<void>
}

export async function attachSystemProxy(options: AttachOptions): Promise<AttachedSystemProxy> {
  const { engine, pac, log } = options
  let settings = options.settings
  const detection =
    options.platform !== undefined
      ? { platform: options.platform, reason: 'no system proxy platform was given' }
      : detectPlatform()
  const detected = detection.platform
  const bypassFor = () => (settings.bypass.length > 0 ? settings.bypass : defaultBypass(detected?.id ?? null))

  const publish = (profile: Profile) => {
    if (engine.state.status !== 'running') return
    pac.update({
      host: engine.state.host === '0.0.0.0' ? '127.0.0.1' : engine.state.host,
      port: engine.state.port,
      profileName: profile.name,
      bypass: bypassFor(),
      failClosed: profile.pacFailClosed === true
    })
  }
  publish(engine.profile)
  engine.on('state', () => publish(engine.profile))

  const shell = (): ShellCommandSet | null =>
    engine.state.status === 'running'
      ? shellCommands({ host: engine.state.host, port: engine.state.port }, bypassFor())
      : null

  if (!detected) {
    const reason = detection.reason ?? 'no system proxy controller fits this machine'
    if (settings.mode !== 'off') {
      log(`system proxy: ${reason}`)
      const commands = shell()
      if (commands) log(`system proxy: in a terminal, run: ${commands.posix}`)
    }
    const status = (): SystemProxyStatus => ({
      status: 'unavailable',
      mode: settings.mode,
      platform: null,
      detail: reason
    })
    return {
      systemProxy: null,
      status,
      setMode: async (mode) => {
        settings = { ...settings, mode }
        return mode === 'off' ? ok(status()) : fail('engine-error', reason)
      },
      shellCommands: shell,
      detach: async () => undefined
    }
  }

  const systemProxy = new SystemProxy(detected, {
    journalPath: path.join(options.dataDir, JOURNAL_FILE),
    guard: settings.guard,
    watch: options.watchdog ? watchdogs(options.watchdog, log) : null
  })
  systemProxy.on('changed', (c) =>
    log(
      `system proxy: another program changed it (now ${c.actual.mode}); Junction ${c.action === 'reapplied' ? 're-applied its settings' : 'yielded'}`
    )
  )
  systemProxy.on('error', (message) => log(`system proxy: ${message}`))

  const status = (): SystemProxyStatus => {
    const state = systemProxy.state
    return {
      status: state.status,
      mode: settings.mode,
      platform: detected.id,
      detail: state.status === 'yielded' ? state.reason : null
    }
  }

  const setMode = async (mode: SystemProxyMode): Promise<Result<SystemProxyStatus>> => {
    settings = { ...settings, mode }
    const state = engine.state
    const desired =
      state.status === 'running' ? desiredProxy(settings, detected.id, state.host, state.port) : null
    if (!desired) {
      const off = await systemProxy.disable()
      return off.ok ? ok(status()) : off
    }
    const enabled = await systemProxy.enable(desired)
    if (!enabled.ok) return enabled
    log(
      `system proxy: ${desired.mode === 'pac' ? `PAC ${desired.url}` : `manual → ${desired.http.host}:${desired.http.port}`} (${detected.id})`
    )
    return ok(status())
  }

  const recovered = await systemProxy.recover()
  if (!recovered.ok) log(`system proxy: ${recovered.error.message}`)
  else if (recovered.value) log(`system proxy: ${recovered.value}`)

  if (settings.mode !== 'off') {
    const enabled = await setMode(settings.mode)
    if (!enabled.ok) log(`system proxy: ${enabled.error.message}`)
  }
  // Never leave the OS pointing at a proxy that is gone.
  engine.on('state', (s) => {
    if (s.status === 'failed' || s.status === 'stopping') void systemProxy.disable()
  })

  return {
    systemProxy,
    status,
    setMode,
    shellCommands: shell,
    async detach() {
      const wasOn = systemProxy.state.status === 'on'
      const restored = await systemProxy.disable()
      if (!restored.ok) log(`system proxy: ${restored.error.message}`)
      else if (wasOn) log('system proxy: previous settings restored')
    }
  }
}
