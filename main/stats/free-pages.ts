/**
 * Gives the free pages inside glibc's heap back to the system (glibc's `malloc_trim`), once V8 has
 * freed what a burst of traffic left (memory-return.ts).
 *
 * Why: glibc's `free()` gives memory back only from the top of its heap, and what a burst leaves on
 * top stays in use: V8's global-handle blocks made while 10,000 sockets held handles, pooled HTTP
 * parsers, read buffers (BENCHMARKS.md, "What holds the heap"). So after 5,000 idle tunnels closed,
 * headless Junction's heap held about 10 MiB of free memory below them, all of it resident: RSS
 * stayed at +21 % over the start. `malloc_trim` walks the free chunks and releases every whole page
 * in them (`madvise(MADV_DONTNEED)`), wherever they sit.
 *
 * How, without a native addon: SQLite loads an extension by opening a shared library and calling one
 * function in it, and Node's SQLite lets the caller name that function (`loadExtension(path, entry)`).
 * A database opened only for this names glibc's `malloc_trim` in `libc.so.6`, already loaded in the
 * process. SQLite passes three arguments (its handle, a pointer for an error message, its API table);
 * `malloc_trim(pad)` reads only the first (passed in a register on the Linux ABIs Node runs on) as how
 * much of the heap's top to keep: the handle's address is far above any heap size, so the top is kept
 * (`free()` trims it once it passes glibc's trim threshold) and only the pages inside are released,
 * which glibc does whatever the pad. It returns 1 when some free chunk spans a whole page (so nearly
 * always), which SQLite reports as "error during initialization"; 0 is success to SQLite.
 *
 * Linux with glibc only, and only in plain Node (headless mode): where the library or the function is
 * missing (musl), loading fails with another message and it is not tried again. The desktop app is
 * left out, as with the other memory settings (malloc-arena.ts): Electron's main process is not
 * measured here.
 */
type Sqlite = typeof import('node:sqlite')

let available = process.platform === 'linux' && !process.versions.electron

/** Whether `malloc_trim` ran: false where it is not available. */
export function releaseFreePages(): boolean {
  const sqlite = available ? (process.getBuiltinModule('node:sqlite') as Sqlite | undefined) : undefined
  if (!sqlite) {
    available = false
    return false
  }
  let database: InstanceType<Sqlite['DatabaseSync']> | undefined
  try {
    // Under Node's permission model extensions are refused here, with another message.
    database = new sqlite.DatabaseSync(':memory:', { allowExtension: true })
    database.loadExtension('libc.so.6', 'malloc_trim')
    return true
  } catch (error) {
    if ((error as Error).message.startsWith('error during initialization')) return true
    available = false
    return false
  } finally {
    database?.close()
  }
}
