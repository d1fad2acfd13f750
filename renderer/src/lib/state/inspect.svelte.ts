/**
 * Whether Junction records exchanges for the Inspect view, as every open UI sees it.
 *
 * Recording costs CPU on every request, so main keeps it off until someone looks: the first time the
 * Inspect view opens in a page session it switches recording on. After that, Pause and Resume decide,
 * and coming back to the view does not resume what the user paused.
 */
import type { InspectState } from '../../../../common/ipc-contract.ts'
import { api } from '../api.ts'

class InspectStore {
  state = $state.raw<InspectState | null>(null)
  error = $state<string | null>(null)
  #opened = false
  #subscribed = false

  /** Called by the view each time it is shown. */
  async open(): Promise<void> {
    if (!this.#subscribed) {
      this.#subscribed = true
      api.onExchanges((state) => (this.state = state))
    }
    const first = !this.#opened
    this.#opened = true
    await this.#apply(() => (first ? api.setInspectRecording(true) : api.inspectState()))
  }

  setRecording(on: boolean): Promise<void> {
    return this.#apply(() => api.setInspectRecording(on))
  }

  clear(): Promise<void> {
    return this.#apply(() => api.clearExchanges())
  }

  async #apply(call: () => Promise<InspectState>): Promise<void> {
    try {
      this.state = await call()
      this.error = null
    } catch (error) {
      this.error = (error as Error).message
    }
  }
}

export const inspect = new InspectStore()
