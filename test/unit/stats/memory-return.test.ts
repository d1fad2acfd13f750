import { constants, PerformanceObserver } from 'node:perf_hooks'
import v8 from 'node:v8'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryReturn, noteStreamed } from '../../../main/stats/memory-return.ts'

const MiB = 1024 * 1024
const heapSize = (): number => v8.getHeapStatistics().total_heap_size
const youngSize = (): number =>
  v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** About 100 MiB (`arrays` × 0.4) of objects kept long enough to reach the old generation; garbage once this returns. */
function growHeapWithGarbage(arrays = 250): void {
  const kept: object[][] = []
  for (let i = 0; i < arrays; i++) kept.push(Array.from({ length: 20_000 }, (_, j) => ({ j })))
}

/** Keeps the event loop busy for `ms`, in 20 ms slices so that timers still run in between. */
async function busyFor(ms: number): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const slice = Date.now() + 20
    while (Date.now() < slice);
    await new Promise((resolve) => setImmediate(resolve))
  }
}

let running: MemoryReturn | null = null
afterEach(() => running?.stop())

describe('MemoryReturn', () => {
  it('gives the heap back once the event loop is idle after it grew, and says how much', async () => {
    const said: [number, number][] = []
    running = new MemoryReturn({
      intervalMs: 200,
      quietMs: 200,
      growthBytes: 32 * MiB,
      onReturn: (before, after) => said.push([before, after])
    })
    running.start()
    growHeapWithGarbage()
    const grown = heapSize()
    for (let waited = 0; running.returns === 0 && waited < 5000; waited += 100) await sleep(100)
    expect(running.returns).toBe(1)
    expect(heapSize()).toBeLessThan(grown - 32 * MiB)
    // RSS before and after, as the runtime logs it: the heap's pages went back to the system.
    expect(said).toHaveLength(1)
    expect(said[0]![0] - said[0]![1]).toBeGreaterThan(32 * MiB)
    // Once given back, it waits for the heap to grow again.
    await sleep(1000)
    expect(running.returns).toBe(1)
  })

  it('waits while the event loop is busy, then collects', async () => {
    running = new MemoryReturn({ intervalMs: 200, quietMs: 200, growthBytes: 32 * MiB })
    running.start()
    growHeapWithGarbage()
    await busyFor(1500)
    expect(running.returns).toBe(0)
    for (let waited = 0; running.returns === 0 && waited < 5000; waited += 100) await sleep(100)
    expect(running.returns).toBe(1)
  })

  it('gives back a young generation a burst grew, though the heap is no bigger than at the start', async () => {
    growHeapWithGarbage()
    const grown = youngSize()
    expect(grown).toBeGreaterThanOrEqual(16 * MiB)
    running = new MemoryReturn({
      intervalMs: 200,
      quietMs: 200,
      growthBytes: 1024 * MiB,
      youngBytes: 16 * MiB
    })
    running.start()
    for (let waited = 0; running.returns === 0 && waited < 5000; waited += 100) await sleep(100)
    expect(running.returns).toBe(1)
    expect(youngSize()).toBeLessThan(16 * MiB)
    await sleep(1000)
    expect(running.returns).toBe(1)
  })

  it('waits for the event loop to stay quiet for quietMs: pauses between bursts keep the memory', async () => {
    running = new MemoryReturn({ intervalMs: 100, quietMs: 1000, growthBytes: 32 * MiB })
    running.start()
    growHeapWithGarbage()
    // Bursts 500 ms apart: every pause is idle for several intervals, none for quietMs.
    for (let burst = 0; burst < 4; burst++) {
      await busyFor(300)
      await sleep(500)
    }
    expect(running.returns).toBe(0)
    const quietFrom = Date.now()
    for (let waited = 0; running.returns === 0 && waited < 5000; waited += 50) await sleep(50)
    expect(running.returns).toBe(1)
    expect(Date.now() - quietFrom).toBeGreaterThanOrEqual(500)
  })

  it('settle() gives back what start-up left, and measures the next growth from there', async () => {
    running = new MemoryReturn({
      intervalMs: 200,
      quietMs: 200,
      growthBytes: 32 * MiB,
      youngBytes: 1024 * MiB
    })
    // Start-up's garbage is still in the heap when the runtime starts its MemoryReturn.
    growHeapWithGarbage()
    running.start()
    const started = heapSize()
    running.settle()
    expect(heapSize()).toBeLessThan(started - 32 * MiB)
    // About 50 MiB of growth past the settled heap (but not past the heap at start) is collected.
    growHeapWithGarbage(125)
    for (let waited = 0; running.returns === 0 && waited < 5000; waited += 100) await sleep(100)
    expect(running.returns).toBe(1)
  })

  it('does nothing when neither the heap nor its young generation has grown', async () => {
    running = new MemoryReturn({
      intervalMs: 100,
      quietMs: 100,
      growthBytes: 256 * MiB,
      youngBytes: 256 * MiB
    })
    running.start()
    await sleep(1000)
    expect(running.returns).toBe(0)
  })
})

describe('noteStreamed', () => {
  it('runs one young-generation collection per 8 MiB streamed', async () => {
    const minor: number[] = []
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        if (
          (entry as unknown as { detail: { kind: number } }).detail.kind ===
          constants.NODE_PERFORMANCE_GC_MINOR
        )
          minor.push(entry.startTime)
    })
    observer.observe({ entryTypes: ['gc'] })
    const chunk = Buffer.alloc(64 * 1024)
    // Start from a fresh count: at most 8 MiB takes it past its threshold once.
    for (let i = 0; i < 128; i++) noteStreamed(chunk)
    await sleep(50)
    minor.length = 0
    for (let i = 0; i < 8 * 128; i++) noteStreamed(chunk)
    await sleep(50)
    observer.disconnect()
    // 64 MiB: eight collections of ours (V8 may add its own, allocating next to nothing here).
    expect(minor.length).toBeGreaterThanOrEqual(8)
    expect(minor.length).toBeLessThanOrEqual(10)
  })

  it("keeps dead chunks from piling up to V8's 64 MiB external-memory limit", () => {
    let peak = 0
    for (let i = 0; i < 4096; i++) {
      // A new Buffer per chunk, dead once passed on, as a streamed body's chunks are.
      noteStreamed(Buffer.alloc(64 * 1024, i))
      if (i % 64 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers)
    }
    expect(peak).toBeLessThan(32 * MiB)
  })
})
