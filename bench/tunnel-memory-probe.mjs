/**
 * Loaded into the process bench/tunnel-memory.ts measures (`node --expose-gc --import <this>`): answers
 * its parent's messages with memory figures taken after full collections, and writes heap snapshots.
 * Plain JavaScript, so that loading it does not start Node's type stripper in the measured process
 * (about 16 MiB of RSS, BENCHMARKS.md).
 */
import v8 from 'node:v8'

if (process.send) {
  process.on('message', (message) => {
    if (message.type === 'measure') {
      // Twice: the first collection's finalizers can free more in a second one.
      globalThis.gc()
      globalThis.gc()
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
      process.send({ type: 'measured', rss, heapUsed, external, arrayBuffers })
    } else if (message.type === 'snapshot') {
      process.send({ type: 'snapshot', file: v8.writeHeapSnapshot(message.file) })
    }
  })
  // Listening for the parent must not be what keeps the process running.
  process.channel?.unref()
}
