/**
 * Live traffic: the latest snapshot, and the rates of the last five minutes for the chart. A snapshot
 * counts as live only while they keep arriving (once a second); views mark older figures as such.
 */
import type { StatsSnapshot } from '../../../../common/model.ts'
import { api } from '../api.ts'
import { link } from '../link.ts'

export interface RatePoint {
  at: number
  up: number
  down: number
}

const HISTORY_SECONDS = 300
/** Snapshots come every second; three missed ones mean the figures are no longer live. */
const STALE_AFTER_MS = 3000

class StatsStore {
  snapshot = $state.raw<StatsSnapshot | null>(null)
  /** Oldest first; replaced, never mutated, so charts redraw from a new array. */
  rates = $state.raw<RatePoint[]>([])
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
      this.rates = [
        ...this.rates.slice(-(HISTORY_SECONDS - 1)),
        { at: snapshot.at, up: snapshot.upRate, down: snapshot.downRate }
      ]
    })
    // A restarted Junction counts from zero: the old totals must not stand in for the new ones.
    link.onReconnect(() => {
      this.snapshot = null
      this.rates = []
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
