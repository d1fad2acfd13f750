/** Resident memory of benchmarked processes, read from Linux's /proc. */
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, readSync } from 'node:fs'

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

/** What glibc's main heap of `pid` holds, per MiB from its start, and what is in use near its top. */
export interface HeapLayout {
  heapMiB: number
  /** The free chunk at the end, which `free()` gives back once it is over the trim threshold. */
  topMiB: number
  /** KiB in use and free in each MiB of the heap, from its start. */
  perMiB: { usedKiB: number; freeKiB: number }[]
  /** Chunks in use in the top `nearTopMiB` MiB below the top chunk, by what they are: count and KiB. */
  nearTop: Map<string, { count: number; kib: number }>
}

/** V8 fills free global-handle slots with this; a block of them is 8,256 bytes with glibc's header. */
const GLOBAL_HANDLE_ZAP = 0x1baffed00baffedfn

/**
 * Walks glibc's main heap ([heap]) of `pid` chunk by chunk from /proc/PID/mem (root only): each chunk's
 * size is the 8 bytes before its data, and the next chunk's lowest size bit says whether it is in use.
 * A chunk in use near the top is named by its first 8 bytes: a C++ object's vtable in the node binary
 * (`vtables`, from vtablesOf), V8's global-handle blocks, or else its size.
 */
export function heapLayout(pid: number, vtables: Map<bigint, string>, nearTopMiB = 3): HeapLayout {
  const line = readFileSync(`/proc/${pid}/maps`, 'latin1')
    .split('\n')
    .find((each) => each.endsWith('[heap]'))
  if (!line) throw new Error(`process ${pid} has no [heap] mapping`)
  const [low, high] = line
    .split(' ')[0]!
    .split('-')
    .map((hex) => Number.parseInt(hex, 16)) as [number, number]
  const heap = Buffer.alloc(high - low)
  const fd = openSync(`/proc/${pid}/mem`, 'r')
  try {
    readSync(fd, heap, 0, heap.length, low)
  } finally {
    closeSync(fd)
  }
  const chunks: [offset: number, size: number][] = []
  for (let at = 0; at + 16 <= heap.length;) {
    const size = Number(heap.readBigUInt64LE(at + 8) & ~7n)
    if (size === 0 || at + size > heap.length) break
    chunks.push([at, size])
    at += size
  }
  const [topAt, topSize] = chunks.pop()!
  const perMiB = Array.from({ length: Math.ceil(heap.length / 2 ** 20) }, () => ({ usedKiB: 0, freeKiB: 0 }))
  const nearTop = new Map<string, { count: number; kib: number }>()
  for (const [at, size] of chunks) {
    const used = (heap.readBigUInt64LE(at + size + 8) & 1n) === 1n
    perMiB[at >> 20]![used ? 'usedKiB' : 'freeKiB'] += size / 1024
    if (!used || at < topAt - nearTopMiB * 2 ** 20) continue
    const first = heap.readBigUInt64LE(at + 16)
    const name =
      first === GLOBAL_HANDLE_ZAP ? 'V8 global-handle block' : (vtables.get(first) ?? `${size} bytes`)
    const kind = nearTop.get(name) ?? { count: 0, kib: 0 }
    nearTop.set(name, { count: kind.count + 1, kib: kind.kib + size / 1024 })
  }
  return { heapMiB: heap.length / 2 ** 20, topMiB: topSize / 2 ** 20, perMiB, nearTop }
}

/** The node binary's C++ vtables by the address objects hold (the vtable's own address + 16). */
export function vtablesOf(binary: string): Map<bigint, string> {
  const vtables = new Map<bigint, string>()
  for (const line of execFileSync('nm', ['-C', binary], { encoding: 'latin1', maxBuffer: 1 << 30 }).split(
    '\n'
  )) {
    const match = /^([0-9a-f]+) [VvDdRr] vtable for (.+)$/.exec(line)
    if (match) vtables.set(BigInt(`0x${match[1]}`) + 16n, match[2]!)
  }
  return vtables
}
