/**
 * The engine and the system proxy as the UI sees them: loaded once, then kept current by events.
 */
import type { SystemProxyStatus } from '../../../../common/ipc-contract.ts'
import type { EngineState } from '../../../../common/model.ts'
import { api } from '../api.ts'
import { isUnreachable, link } from '../link.ts'

class EngineStore {
  state = $state.raw<EngineState | null>(null)
  systemProxy = $state.raw<SystemProxyStatus | null>(null)
  /** The last failure, in words, for the overview's error line. */
  error = $state<string | null>(null)
  #started = false

  start(): void {
    if (this.#started) return
    this.#started = true
    api.onEngineState((state) => (this.state = state))
    api.onSystemProxy((status) => (this.systemProxy = status))
    api.onError(({ message }) => (this.error = message))
    // A restarted Junction may run another profile or port: read it again rather than trust the old.
    link.onReconnect(() => void this.refresh())
    void this.refresh()
  }

  async refresh(): Promise<void> {
    try {
      ;[this.state, this.systemProxy] = await Promise.all([api.getEngineState(), api.getSystemProxy()])
      this.error = null
    } catch (error) {
      this.#fail(error)
    }
  }

  async setSystemProxy(mode: 'off' | 'manual' | 'pac'): Promise<void> {
    try {
      this.systemProxy = await api.setSystemProxy(mode)
      this.error = null
    } catch (error) {
      this.#fail(error)
    }
  }

  /** The link indicator already says when Junction cannot be reached; the error line does not repeat it. */
  #fail(error: unknown): void {
    if (!isUnreachable(error)) this.error = (error as Error).message
  }
}

export const engine = new EngineStore()
