/**
 * CPU accounting from Linux /proc, for two things throughput alone cannot tell on a small shared
 * machine: how much CPU each proxy spends per request (a cost that other load on the machine barely
 * changes, unlike requests/s), and how much CPU processes outside the benchmark took during a round
 * (which makes that round's requests/s untrustworthy). Elsewhere every reading is null.
 */
import { readFileSync } from 'node:fs'

/** Linux reports process and machine CPU time in USER_HZ ticks, which is 100/s on every architecture. */
const TICKS_PER_SECOND = 100

export interface MachineTicks {
  /** user + nice + system over all CPUs: time spent running processes. */
  busy: number
  /** Time the hypervisor ran something else while our virtual CPUs wanted to run. */
  steal: number
  /** Every category over all CPUs, idle included. */
  total: number
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

export function machineTicks(): MachineTicks | null {
  const text = readText('/proc/stat')
  const line = text?.split('\n', 1)[0]
  if (!line?.startsWith('cpu ')) return null
  // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  if (steal === undefined) return null
  // irq and softirq are left out of busy: loopback traffic is mostly handled there and /proc credits it
  // to no process, so counting it would make our own network load look like someone else's work.
  const busy = user! + nice! + system!
  return { busy, steal, total: busy + idle! + iowait! + irq! + softirq! + steal }
}

/** User + system CPU ticks of one process (all its threads). */
export function processTicks(pid: number | 'self'): number | null {
  const text = readText(`/proc/${pid}/stat`)
  if (!text) return null
  // The command name (field 2) may contain spaces and parentheses; the fields after it may not.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : null
}

export interface CpuSnapshot {
  machine: MachineTicks | null
  /** Ticks per process of the benchmark (this process and its children), by pid. */
  own: Map<number | 'self', number | null>
}

export function cpuSnapshot(pids: (number | 'self')[]): CpuSnapshot {
  return { machine: machineTicks(), own: new Map(pids.map((pid) => [pid, processTicks(pid)])) }
}

export interface CpuDelta {
  /** CPU seconds each process used between the snapshots, by pid. */
  seconds: Map<number | 'self', number>
  /**
   * Share of the whole machine's capacity used by processes not in the benchmark, or stolen by the
   * hypervisor for other guests (0–1).
   */
  foreignShare: number
}

export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuDelta | null {
  if (!before.machine || !after.machine) return null
  const seconds = new Map<number | 'self', number>()
  let ownTicks = 0
  for (const [pid, start] of before.own) {
    const end = after.own.get(pid)
    if (start === null || end === null || end === undefined) return null
    ownTicks += end - start
    seconds.set(pid, (end - start) / TICKS_PER_SECOND)
  }
  const total = after.machine.total - before.machine.total
  const foreign =
    Math.max(0, after.machine.busy - before.machine.busy - ownTicks) +
    after.machine.steal -
    before.machine.steal
  return { seconds, foreignShare: total > 0 ? foreign / total : 0 }
}
