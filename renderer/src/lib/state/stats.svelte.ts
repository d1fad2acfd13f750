/**
 * Live traffic: the latest snapshot. A snapshot counts as live only while they keep arriving (once a
 * second); views mark older figures as such. The chart's rates are in traffic.svelte.ts.
 */
import type { StatsSnapshot } from '../../../../common/model.ts'
import { api } from '../api.ts'
import { link } from '../link.ts'

/** Snapshots come every second; three missed ones mean the figures are no longer live. */
const STALE_AFTER_MS = 3000

class StatsStore {
  snapshot = $state.raw<StatsSnapshot | null>(null)
  /** When the latest snapshot arrived (this page's clock), or 0 before the first. */
  receivedAt = $state(0)
  /** Re-read every second, so `live` turns false when snapshots stop coming. */
  #now = $state(Date.now())
  #started = false

  get live(): boolean {
    return this.snapshot !== null && this.#now - this.receivedAt < STALE_AFTER_MS
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    setInterval(() => (this.#now = Date.now()), 500)
    api.onStats((snapshot) => {
      this.snapshot = snapshot
      this.receivedAt = this.#now = Date.now()
    })
    // A restarted Junction counts from zero: the old totals must not stand in for the new ones.
    link.onReconnect(() => {
      this.snapshot = null
      void this.#load()
    })
    void this.#load()
  }

  async #load(): Promise<void> {
    const first = await api.getStats().catch(() => null)
    if (first && !this.snapshot) {
      this.snapshot = first
      this.receivedAt = this.#now = Date.now()
    }
  }
}

export const stats = new StatsStore()
