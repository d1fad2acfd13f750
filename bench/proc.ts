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

/** Resident KiB of `pid` by kind of mapping (/proc/PID/smaps): glibc's main heap, other anonymous, files. */
export function rssByMapping(pid: number): Record<'heap' | 'anonymous' | 'files', number> {
  const kib = { heap: 0, anonymous: 0, files: 0 }
  let kind: keyof typeof kib = 'anonymous'
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'latin1').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (mapping) {
      const name = mapping[1]!
      kind = name === '[heap]' ? 'heap' : name.startsWith('/') ? 'files' : 'anonymous'
    } else if (line.startsWith('Rss:')) kib[kind] += Number(line.split(/\s+/)[1])
  }
  return kib
}
