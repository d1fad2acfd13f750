/**
 * The dashboard's link to Junction as the UI shows it: connected, reconnecting (with the seconds to
 * the next attempt) or lost. In the desktop window the link is IPC and never drops, so nothing shows.
 */
import { link, type LinkState } from '../link.ts'

class ConnectionStore {
  /** False in the desktop window; read late, since the transport attaches when api.ts first loads. */
  get remote(): boolean {
    return link.remote
  }
  state = $state.raw<LinkState>(link.state)
  /** Seconds until the next attempt, counted down once a second while it matters. */
  retryIn = $state<number | null>(null)
  #started = false
  #ticker: ReturnType<typeof setInterval> | null = null

  get connected(): boolean {
    return this.state.status === 'connected'
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    link.onChange((state) => {
      this.state = state
      this.#tick()
      if (state.retryAt !== null && !this.#ticker) this.#ticker = setInterval(() => this.#tick(), 1000)
      if (state.retryAt === null && this.#ticker) {
        clearInterval(this.#ticker)
        this.#ticker = null
      }
    })
  }

  retryNow(): void {
    link.retryNow()
  }

  #tick(): void {
    const at = this.state.retryAt
    this.retryIn = at === null ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000))
  }
}

export const connection = new ConnectionStore()
