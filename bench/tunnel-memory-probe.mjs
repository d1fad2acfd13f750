/**
 * Loaded into the process bench/tunnel-memory.ts measures (`node --expose-gc --import <this>`): answers
 * its parent's messages with memory figures taken after a full collection that also gives the heap's
 * free pages back (the one main/stats/memory-return.ts runs once idle), and writes heap snapshots.
 * Plain JavaScript, so that loading it does not start Node's type stripper in the measured process
 * (about 16 MiB of RSS, BENCHMARKS.md).
 */
import v8 from 'node:v8'

if (process.send) {
  process.on('message', (message) => {
    if (message.type === 'measure') {
      globalThis.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
      const { rss, heapTotal, heapUsed, external } = process.memoryUsage()
      process.send({ type: 'measured', rss, heapTotal, heapUsed, external })
    } else if (message.type === 'snapshot') {
      process.send({ type: 'snapshot', file: v8.writeHeapSnapshot(message.file) })
    }
  })
  // Listening for the parent must not be what keeps the process running.
  process.channel?.unref()
}
