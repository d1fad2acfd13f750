/**
 * Gives memory back once a burst of traffic is over. Measured with 2,000 clients through headless
 * Junction (BENCHMARKS.md, "Memory after load"): the V8 heap grows to about 250 MiB under load and
 * stays there, RSS 410 MiB against 123 MiB at start, because V8 shrinks its heap only in a
 * garbage collection it decides to run, and a quiet proxy allocates too little to trigger one. What is
 * left is garbage, not a leak: one compacting collection brings the heap back to about 20 MiB (under
 * what it held at start) and RSS to within 15 MiB of the start.
 *
 * So: once the event loop has been nearly idle for 10 s (looked at every second), if the heap has grown
 * well past its size after the last such collection, or its young generation has, run one. It stops
 * the process while it runs (a 482 MiB heap with about 40 MiB live went to 45 MiB in 0.3 s here), hence
 * only when there is little to delay, and at most once per burst: the next one needs the heap to grow
 * again.
 *
 * Why wait 10 s: the next burst pays for the collection with its optimised code. V8's optimised code
 * refers only weakly to the object shapes (maps) it was built for. Between bursts no connection is
 * open, so no object has those shapes; a full collection then frees them and V8 throws away every
 * function built on them (`--log-deopt`: 57–122 functions per collection, "embedded weak objects
 * cleared"; a `regular` collection and `--retain-maps-for-n-gc` change nothing). The next burst runs
 * them unoptimised and compiles them again: short tunnels in 1 s bursts 7 s apart took about 290 µs
 * of CPU each against 200 without the pauses (BENCHMARKS.md, "The peers gap explained"). V8's own
 * memory reducer runs the same collection 8 s after its last full one once allocation has slowed,
 * whatever there is to give back, so headless mode turns it off (`--no-memory-reducer`, package.json)
 * and this is the only one. Traffic with pauses under 10 s (a browser between pages) keeps its memory
 * and its optimised code; a burst that is over gives its memory back 10–11 s later.
 *
 * The young generation: V8 doubles it (to 32 MiB after start-up with 1,000 rules, 64 MiB after 5,000
 * tunnels opened at once) while a burst's objects survive, and keeps it, holding a few KiB once the
 * burst is over; with the 5,000 tunnels open RSS stayed at 149 MiB, and 110 MiB once given back
 * (BENCHMARKS.md, peers: memory per tunnel). The collection here puts it back to 1 MiB.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import v8 from 'node:v8'
import vm from 'node:vm'
import { releaseFreePages } from './free-pages.ts'

export interface MemoryReturnOptions {
  /** How often to look (ms). */
  intervalMs?: number
  /** Event-loop utilisation (0–1) over the interval at or under which the process counts as idle. */
  idleUtilization?: number
  /** How long the process must have been idle, interval after interval, before a collection (ms). */
  quietMs?: number
  /** Heap growth over its size after the last collection that makes one worth running (bytes). */
  growthBytes?: number
  /** Young-generation size that makes one worth running (bytes). */
  youngBytes?: number
  /** Called after each collection once a burst is over, with the process's RSS before and after (bytes). */
  onReturn?: (rssBefore: number, rssAfter: number) => void
}

type GcFunction = (
  options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' } | { type: 'minor'; execution: 'sync' }
) => void

let gcFunction: GcFunction | null = null

/**
 * V8's `gc()`, without starting Node with `--expose-gc`: the flag installs it in contexts created while
 * it is set, so a new context made then hands it over (as jest's leak detector does). It is unset again
 * so that no other context gets a global `gc`.
 */
function exposedGc(): GcFunction {
  if (gcFunction) return gcFunction
  v8.setFlagsFromString('--expose-gc')
  try {
    gcFunction = vm.runInNewContext('gc') as GcFunction
  } finally {
    v8.setFlagsFromString('--no-expose-gc')
  }
  return gcFunction
}

/**
 * A full, compacting collection that also releases the heap's free pages to the system: the
 * `last-resort` flavour is V8's `CollectAllAvailableGarbage` (the one it runs before giving up on an
 * allocation); a `regular` major collection frees the garbage but keeps the heap's size. What the
 * collection freed outside V8's heap (sockets, buffers) goes back to glibc, which keeps it resident
 * until asked (free-pages.ts).
 */
export function returnMemory(): void {
  exposedGc()({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  releaseFreePages()
}

const heapSize = (): number => v8.getHeapStatistics().total_heap_size
const youngSize = (): number =>
  v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0

export class MemoryReturn {
  private readonly intervalMs: number
  private readonly idleUtilization: number
  private readonly quietMs: number
  private readonly growthBytes: number
  private readonly youngBytes: number
  private readonly onReturn: MemoryReturnOptions['onReturn']
  private timer: NodeJS.Timeout | null = null
  private lastLoop: EventLoopUtilization = performance.eventLoopUtilization()
  private baseline = heapSize()
  /** How long the event loop has been idle, in whole intervals up to now. */
  private quietFor = 0
  /** Collections run so far, for tests and logs. */
  returns = 0

  constructor(options: MemoryReturnOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1000
    this.idleUtilization = options.idleUtilization ?? 0.05
    this.quietMs = options.quietMs ?? 10_000
    this.growthBytes = options.growthBytes ?? 64 * 1024 * 1024
    this.youngBytes = options.youngBytes ?? 16 * 1024 * 1024
    this.onReturn = options.onReturn
  }

  start(): void {
    this.lastLoop = performance.eventLoopUtilization()
    this.baseline = heapSize()
    this.quietFor = 0
    this.timer ??= setInterval(() => this.check(), this.intervalMs).unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  /**
   * One collection now, for the end of start-up, and growth measured from what is left. Reading and
   * compiling a profile grows V8's young generation to its maximum (16 MiB with 1,000 rules: every
   * long-lived object is first allocated there and survives it), and V8 shrinks it, and gives freed
   * pages back, only in a collection it runs to reduce memory, which an idle proxy never triggers:
   * headless Junction with 1,000 rules held 103 MiB idle, 87 MiB after this (BENCHMARKS.md, peers).
   */
  settle(): void {
    returnMemory()
    this.baseline = heapSize()
  }

  private check(): void {
    const loop = performance.eventLoopUtilization()
    const busy = performance.eventLoopUtilization(loop, this.lastLoop).utilization
    this.lastLoop = loop
    if (busy > this.idleUtilization) {
      this.quietFor = 0
      return
    }
    this.quietFor += this.intervalMs
    if (this.quietFor < this.quietMs) return
    if (heapSize() - this.baseline < this.growthBytes && youngSize() < this.youngBytes) return
    const rssBefore = process.memoryUsage.rss()
    returnMemory()
    this.returns++
    this.baseline = heapSize()
    this.onReturn?.(rssBefore, process.memoryUsage.rss())
  }
}

/** Body bytes streamed between two young-generation collections (noteStreamed). */
const STREAMED_PER_COLLECTION = 8 * 1024 * 1024
let streamedSinceCollection = 0

/**
 * Frees the memory of body chunks already sent on. Each chunk of a streamed body is a new Buffer
 * (Node's HTTP parser copies it out of the socket's read buffer; a tunnel's socket reads into a new one),
 * and V8 frees a dead Buffer's memory only when it collects garbage — which Buffers alone start only
 * once about 64 MiB of them are waiting (V8's external-memory limit). A 1 GiB upload so held 60–85 MiB of
 * dead chunks. A young-generation collection after every 8 MiB streamed frees them while they are still
 * young: 0.5 ms each (p50), and the upload's growth fell to 11–13 MiB (BENCHMARKS.md, streaming memory).
 * Counted across all connections, so many small bodies cost one collection per 8 MiB too.
 */
export function noteStreamed(chunk: Buffer): void {
  streamedSinceCollection += chunk.length
  if (streamedSinceCollection < STREAMED_PER_COLLECTION) return
  streamedSinceCollection = 0
  exposedGc()({ type: 'minor', execution: 'sync' })
}
