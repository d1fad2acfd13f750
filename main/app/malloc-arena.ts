/**
 * Headless mode on Linux runs with glibc's malloc held to one arena (`MALLOC_ARENA_MAX=1`).
 *
 * Why: glibc gives every thread that allocates a heap of its own (up to 8 per core), and keeps what a
 * heap has held once its threads are done with it. V8's helper threads (the compilers, the concurrent
 * marker) each fill one during a burst of traffic: after the peers benchmark's sequence (HTTP, tunnels,
 * bulk transfers, 5,000 idle tunnels) headless Junction held 108 MiB against 78 at start, 9.7 MiB of it
 * in such heaps; with one arena, 93 MiB, at the same CPU per tunnel (BENCHMARKS.md, "Memory after the
 * tunnels close"). glibc reads the variable once, when the process starts, so a process started
 * without it replaces itself (`execve`: the same process ID, before anything has started) with the
 * same command and the variable set. A value already set is kept; other systems' allocators do not
 * read it.
 */
export function withOneMallocArena(entry: string, args: readonly string[]): void {
  if (process.platform !== 'linux' || process.env.MALLOC_ARENA_MAX !== undefined || !process.execve) return
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, entry, ...args], {
      ...process.env,
      MALLOC_ARENA_MAX: '1'
    })
  } catch (error) {
    // Still the same process, unchanged: it runs on with glibc's default arenas.
    console.warn(`[junction] could not restart with one malloc arena: ${(error as Error).message}`)
  }
}
