/**
 * Live traffic: the latest snapshot, and the rates of the last five minutes for the chart.
 */
import type { StatsSnapshot } from '../../../../common/model.ts'
import { api } from '../api.ts'

export interface RatePoint {
  at: number
  up: number
  down: number
}

const HISTORY_SECONDS = 300

class StatsStore {
  snapshot = $state.raw<StatsSnapshot | null>(null)
  /** Oldest first; replaced, never mutated, so charts redraw from a new array. */
  rates = $state.raw<RatePoint[]>([])
  #started = false

  start(): void {
    if (this.#started) return
    this.#started = true
    api.onStats((snapshot) => {
      this.snapshot = snapshot
      this.rates = [
        ...this.rates.slice(-(HISTORY_SECONDS - 1)),
        { at: snapshot.at, up: snapshot.upRate, down: snapshot.downRate }
      ]
    })
    void api.getStats().then(
      (s) => (this.snapshot ??= s),
      () => undefined
    )
  }
}

export const stats = new StatsStore()
