import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { releaseFreePages } from '../../../main/stats/free-pages.ts'
import { returnMemory } from '../../../main/stats/memory-return.ts'

const MiB = 1024 * 1024
const rssMiB = (): number => process.memoryUsage.rss() / MiB

/**
 * 62.5 MiB of 16 KiB buffers (glibc's heap, under its mmap threshold), one in 20 kept: each kept one
 * holds the heap's top above the freed ones, as sockets and parsers made late in a burst do.
 */
function fragmentTheHeap(): Buffer[] {
  const kept: Buffer[] = []
  for (let i = 0; i < 4000; i++) {
    const buffer = Buffer.allocUnsafeSlow(16 * 1024).fill(i)
    if (i % 20 === 0) kept.push(buffer)
  }
  return kept
}

describe('releaseFreePages', () => {
  it('gives back the pages of freed buffers that sit below live ones (returnMemory)', () => {
    const kept = fragmentTheHeap()
    // The collection frees 59 MiB of buffers; without malloc_trim all of it stays resident.
    const before = rssMiB()
    returnMemory()
    const after = rssMiB()
    expect(before - after).toBeGreaterThan(40)
    // The kept buffers are untouched.
    expect(
      kept.every((buffer, n) => buffer[0] === (n * 20) % 256 && buffer[16 * 1024 - 1] === (n * 20) % 256)
    ).toBe(true)
  })

  it('runs on Linux with glibc, and again on every call', () => {
    expect(releaseFreePages()).toBe(true)
    expect(releaseFreePages()).toBe(true)
  })

  it("where extensions are refused (Node's permission model), returns false without throwing and stops trying", () => {
    const module = new URL('../../../main/stats/free-pages.ts', import.meta.url).href
    // Counts how often it reaches for node:sqlite: once, then never again.
    const script = `
      let asked = 0
      const builtin = process.getBuiltinModule
      process.getBuiltinModule = (id) => (asked++, builtin(id))
      const { releaseFreePages } = await import(${JSON.stringify(module)})
      console.log(JSON.stringify([releaseFreePages(), releaseFreePages(), asked]))`
    const child = spawnSync(
      process.execPath,
      ['--permission', '--allow-fs-read=*', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 20_000 }
    )
    expect(child.stderr).toBe('')
    expect(JSON.parse(child.stdout)).toEqual([false, false, 1])
  })
})
