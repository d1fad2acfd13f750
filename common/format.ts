/**
 * Numbers for people: byte counts and rates in binary units, durations. Shared by the tray and the UI.
 */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const

/**
 * A byte count in binary units: whole bytes below 1 KiB (`1023 B`), one decimal below 10 (`1.5 MiB`),
 * whole numbers from 10 on (`35 KiB`). Negative, NaN and infinite inputs count as 0.
 */
export function formatBytes(bytes: number): string {
  let value = Number.isFinite(bytes) && bytes > 0 ? Math.round(bytes) : 0
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  if (unit === 0) return `${value} B`
  let text = value < 9.95 ? value.toFixed(1) : String(Math.round(value))
  // Rounding can reach 1024 (1023.7 KiB): show it as 1.0 of the next unit instead.
  if (text === '1024' && unit < UNITS.length - 1) {
    unit++
    text = '1.0'
  }
  return `${text} ${UNITS[unit]}`
}

/** A transfer rate in bytes per second, e.g. `1.2 KiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`
}

/** A duration, e.g. `850 ms`, `12 s`, `3 min 20 s`, `2 h 5 min`. */
export function formatDuration(ms: number): string {
  const value = Number.isFinite(ms) && ms > 0 ? ms : 0
  if (value < 1000) return `${Math.round(value)} ms`
  const seconds = Math.floor(value / 1000)
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}
