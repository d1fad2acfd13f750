import v8 from 'node:v8'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryReturn } from '../../../main/stats/memory-return.ts'

const MiB = 1024 * 1024
const heapSize = (): number => v8.getHeapStatistics().total_heap_size
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** About 100 MiB of objects kept long enough to reach the old generation; garbage once this returns. */
function growHeapWithGarbage(): void {
  const kept: object[][] = []
  for (let i = 0; i < 250; i++) kept.push(Array.from({ length: 20_000 }, (_, j) => ({ j })))
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
  it('gives the heap back once the event loop is idle after it grew', async () => {
    running = new MemoryReturn({ intervalMs: 200, growthBytes: 32 * MiB })
    running.start()
    growHeapWithGarbage()
    const grown = heapSize()
    for (let waited = 0; running.returns === 0 && waited < 5000; waited += 100) await sleep(100)
    expect(running.returns).toBe(1)
    expect(heapSize()).toBeLessThan(grown - 32 * MiB)
    // Once given back, it waits for the heap to grow again.
    await sleep(1000)
    expect(running.returns).toBe(1)
  })

  it('waits while the event loop is busy, then collects', async () => {
    running = new MemoryReturn({ intervalMs: 200, growthBytes: 32 * MiB })
    running.start()
    growHeapWithGarbage()
    await busyFor(1500)
    expect(running.returns).toBe(0)
    for (let waited = 0; running.returns === 0 && waited < 5000; waited += 100) await sleep(100)
    expect(running.returns).toBe(1)
  })

  it('does nothing when the heap has not grown', async () => {
    running = new MemoryReturn({ intervalMs: 100, growthBytes: 256 * MiB })
    running.start()
    await sleep(1000)
    expect(running.returns).toBe(0)
  })
})
