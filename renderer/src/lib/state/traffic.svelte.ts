/**
 * The Overview chart's figures: Junction's total rates over the chosen range and the busiest hosts
 * and profiles in it, all read from main, so that a reloaded page starts full. For 5 minutes each
 * statistics snapshot then adds its own rate (the same figure main's per-second ring keeps); the
 * minute-based ranges are read again every 15 s, since the minute under way keeps changing.
 */
import {
  TRAFFIC_RANGE_MS,
  type TrafficRange,
  type TrafficRates,
  type TrafficShare
} from '../../../../common/ipc-contract.ts'
import { api } from '../api.ts'
import { isUnreachable, link } from '../link.ts'

const REFRESH_MS = 15_000
const BREAKDOWN_LIMIT = 8

class Traffic {
  range = $state<TrafficRange>('5m')
  series = $state.raw<TrafficRates | null>(null)
  hosts = $state.raw<TrafficShare[]>([])
  profiles = $state.raw<TrafficShare[]>([])
  error = $state<string | null>(null)

  /** Keeps the figures of `range` current until the returned function is called. */
  follow(range: TrafficRange): () => void {
    let stopped = false
    const load = async (): Promise<void> => {
      try {
        const [series, hosts, profiles] = await Promise.all([
          api.trafficRates({ range }),
          api.trafficBreakdown({ range, kind: 'host', limit: BREAKDOWN_LIMIT }),
          api.trafficBreakdown({ range, kind: 'profile', limit: BREAKDOWN_LIMIT })
        ])
        if (stopped) return
        this.series = series
        this.hosts = hosts
        this.profiles = profiles
        this.error = null
      } catch (e) {
        // The link banner already says Junction cannot be reached; say only other failures here.
        if (!stopped) this.error = isUnreachable(e) ? null : (e as Error).message
      }
    }
    const offStats =
      range === '5m'
        ? api.onStats((snapshot) => {
            const current = this.series
            if (!current || snapshot.at <= (current.points.at(-1)?.at ?? current.to)) return
            const from = snapshot.at - TRAFFIC_RANGE_MS['5m']
            this.series = {
              ...current,
              from,
              to: snapshot.at,
              points: [
                ...current.points.filter((p) => p.at >= from),
                { at: snapshot.at, up: snapshot.upRate, down: snapshot.downRate }
              ]
            }
          })
        : () => undefined
    const timer = setInterval(() => void load(), REFRESH_MS)
    const offReconnect = link.onReconnect(() => void load())
    void load()
    return () => {
      stopped = true
      clearInterval(timer)
      offStats()
      offReconnect()
    }
  }
}

export const traffic = new Traffic()
