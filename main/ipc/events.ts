/**
 * Pushes the contract's events to a UI: engine state and system-proxy changes as they happen,
 * statistics once per second (the snapshot itself is bounded). Used by Electron IPC and the dashboard.
 */
import type { AppEvents, ApiEvent } from '../../common/ipc-contract.ts'
import type { RuntimeParts } from '../app/parts.ts'

export type EventSink = <K extends ApiEvent>(event: K, payload: AppEvents[K]) => void

/** Subscribes `send` to everything a UI shows live; returns the unsubscribe. */
export function forwardEvents(
  app: Pick<RuntimeParts, 'engine' | 'stats' | 'systemProxy'>,
  send: EventSink
): () => void {
  const onState = (state: AppEvents['onEngineState']) => {
    send('onEngineState', state)
    send('onSystemProxy', app.systemProxy.status())
  }
  const onStats = (snapshot: AppEvents['onStats']) => send('onStats', snapshot)
  const onProxyState = () => send('onSystemProxy', app.systemProxy.status())
  const onProxyError = (message: string) => send('onError', { message })
  app.engine.on('state', onState)
  app.stats.on('snapshot', onStats)
  app.systemProxy.systemProxy?.on('state', onProxyState)
  app.systemProxy.systemProxy?.on('error', onProxyError)
  return () => {
    app.engine.off('state', onState)
    app.stats.off('snapshot', onStats)
    app.systemProxy.systemProxy?.off('state', onProxyState)
    app.systemProxy.systemProxy?.off('error', onProxyError)
  }
}
