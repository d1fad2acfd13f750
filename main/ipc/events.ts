/**
 * Pushes the contract's events to a UI: engine state and system-proxy changes as they happen,
 * statistics once per second (the snapshot itself is bounded), and the Inspect view's "exchanges
 * changed" at most four times a second (the store throttles it; the view fetches the page it shows). Used by Electron IPC and the dashboard.
 */
import type { AppEvents, ApiEvent } from '../../common/ipc-contract.ts'
import type { RuntimeParts } from '../app/parts.ts'

export type EventSink = <K extends ApiEvent>(event: K, payload: AppEvents[K]) => void

/** Subscribes `send` to everything a UI shows live; returns the unsubscribe. */
export function forwardEvents(
  app: Pick<RuntimeParts, 'engine' | 'stats' | 'systemProxy' | 'exchanges'>,
  send: EventSink
): () => void {
  const onState = (state: AppEvents['onEngineState']) => {
    send('onEngineState', state)
    send('onSystemProxy', app.systemProxy.status())
  }
  const onStats = (snapshot: AppEvents['onStats']) => send('onStats', snapshot)
  const onProxyState = () => send('onSystemProxy', app.systemProxy.status())
  const onProxyError = (message: string) => send('onError', { message })
  const onExchanges = (state: AppEvents['onExchanges']) => send('onExchanges', state)
  app.engine.on('state', onState)
  app.stats.on('snapshot', onStats)
  app.systemProxy.systemProxy?.on('state', onProxyState)
  app.systemProxy.systemProxy?.on('error', onProxyError)
  app.exchanges.on('change', onExchanges)
  return () => {
    app.engine.off('state', onState)
    app.stats.off('snapshot', onStats)
    app.systemProxy.systemProxy?.off('state', onProxyState)
    app.systemProxy.systemProxy?.off('error', onProxyError)
    app.exchanges.off('change', onExchanges)
  }
}
