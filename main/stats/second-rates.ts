/**
 * The last five minutes of Junction's total rates, one point per statistics tick (every second), in
 * memory. History keeps minutes, and a five-minute chart of five points would hide every burst; kept
 * here in main, the chart is full again after a page reload instead of starting empty.
 */
import type { SeriesPoint } from './history-store.ts'

export const SECOND_RATES_KEPT = 300

export class SecondRates {
  private readonly capacity: number
  private readonly points: (SeriesPoint | undefined)[]
  private next = 0

  constructor(capacity = SECOND_RATES_KEPT) {
    this.capacity = capacity
    this.points = new Array<SeriesPoint | undefined>(capacity)
  }

  /** Records the rates (bytes per second) measured over the tick that ended at `at`. */
  push(at: number, up: number, down: number): void {
    this.points[this.next] = { at, up, down }
    this.next = (this.next + 1) % this.capacity
  }

  /** The points at or after `from`, oldest first. */
  since(from: number): SeriesPoint[] {
    const out: SeriesPoint[] = []
    for (let i = 0; i < this.capacity; i++) {
      const point = this.points[(this.next + i) % this.capacity]
      if (point && point.at >= from) out.push(point)
    }
    return out
  }
}
