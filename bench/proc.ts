/** Resident memory of benchmarked processes, read from Linux's /proc. */
import { readFileSync } from 'node:fs'

/** VmRSS of `pid` in KiB; 0 for a process that has none left (a zombie child). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0)
}

export function rssMiB(pid: number): number {
  return rssKiB(pid) / 1024
}

/** `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()
  return [pid, ...(children ? children.split(/\s+/).map(Number).flatMap(processTree) : [])]
}

/** The resident memory of `pid` and its descendants together, in KiB, and how many they are. */
export function treeRss(pid: number): { kib: number; processes: number } {
  const pids = processTree(pid)
  return { kib: pids.reduce((sum, each) => sum + rssKiB(each), 0), processes: pids.length }
}
