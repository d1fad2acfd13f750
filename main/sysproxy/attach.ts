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
import { SystemProxy } from './system-proxy.ts'
import type { SystemProxyPlatform } from './types.ts'

export const JOURNAL_FILE = 'sysproxy-journal.json'

export interface AttachOptions {
  dataDir: string
  settings: Settings['systemProxy']
  engine: ProxyEngine
  pac: PacPublisher
  log: (line: string) => void
  /** Overrides detection (tests, or a platform chosen by the desktop shell). */
  platform?: SystemProxyPlatform | null
}

export interface AttachedSystemProxy {
  systemProxy: SystemProxy | null
  /** Restores the OS settings (if Junction changed them). */
  detach(): Promise<void>
}

export async function attachSystemProxy(options: AttachOptions): Promise<AttachedSystemProxy> {
  const { engine, pac, log, settings } = options
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

  if (!detected) {
    if (settings.mode !== 'off' && engine.state.status === 'running') {
      log(`system proxy: ${detection.reason}`)
      log(
        `system proxy: in a terminal, run: ${shellCommands({ host: engine.state.host, port: engine.state.port }, bypassFor()).posix}`
      )
    }
    return { systemProxy: null, detach: async () => undefined }
  }

  const systemProxy = new SystemProxy(detected, {
    journalPath: path.join(options.dataDir, JOURNAL_FILE),
    guard: settings.guard
  })
  systemProxy.on('changed', (c) =>
    log(
      `system proxy: another program changed it (now ${c.actual.mode}); Junction ${c.action === 'reapplied' ? 're-applied its settings' : 'yielded'}`
    )
  )
  systemProxy.on('error', (message) => log(`system proxy: ${message}`))

  const recovered = await systemProxy.recover()
  if (!recovered.ok) log(`system proxy: ${recovered.error.message}`)
  else if (recovered.value) log(`system proxy: ${recovered.value}`)

  const state = engine.state
  const desired =
    state.status === 'running' ? desiredProxy(settings, detected.id, state.host, state.port) : null
  if (desired) {
    const enabled = await systemProxy.enable(desired)
    log(
      enabled.ok
        ? `system proxy: ${desired.mode === 'pac' ? `PAC ${desired.url}` : `manual → ${desired.http.host}:${desired.http.port}`} (${detected.id})`
        : `system proxy: ${enabled.error.message}`
    )
  }
  // Never leave the OS pointing at a proxy that is gone.
  engine.on('state', (s) => {
    if (s.status === 'failed' || s.status === 'stopping') void systemProxy.disable()
  })

  return {
    systemProxy,
    async detach() {
      const wasOn = systemProxy.state.status === 'on'
      const restored = await systemProxy.disable()
      if (!restored.ok) log(`system proxy: ${restored.error.message}`)
      else if (wasOn) log('system proxy: previous settings restored')
    }
  }
}
