/**
 * Reading a large import takes seconds of CPU (a 4 MiB Clash file: 2–5 s, mostly the YAML parser),
 * and this process also carries the proxy's traffic: read on a worker thread, so requests keep
 * flowing. The worker gets a memory cap and a time limit, so a hostile file costs a failed import,
 * not the proxy.
 *
 * The worker's module is `import-worker.ts` beside this file in the sources, and the built
 * `out/main/import-worker.js` in the bundles (this code may sit in `out/main/` or in a shared chunk
 * below it). Where none is found, or inside an `app.asar` archive (whether Electron starts a worker
 * from inside the archive was not verified), the import is read on this thread, as before.
 *
 * The readers (and the YAML parser under the Clash one) load on the first import read here, not when
 * Junction starts: most runs never import anything.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { fail, type Result } from '../../common/result.ts'
import type { ImportResult } from './import-file.ts'

const WORKER = ['./import-worker.ts', './import-worker.js', '../import-worker.js']
  .map((candidate) => new URL(candidate, import.meta.url))
  .find(
    (url) => url.protocol === 'file:' && !url.pathname.includes('.asar/') && existsSync(fileURLToPath(url))
  )

/**
 * Below this size a file is read here: a worker takes 0.3–0.5 s to start (it loads the parsers
 * again), while a 64 KiB file reads in tens of milliseconds.
 */
const INLINE_BYTES = 64 * 1024

export interface WorkerLimits {
  /** The worker is stopped after this long (default 60 s). */
  timeoutMs?: number
  /** Heap for the worker's objects (default 512 MiB): a 5 MiB file needs well under that. */
  maxHeapMb?: number
}

export async function readImportInWorker(
  text: string,
  fileName: string | undefined,
  existingNames: string[],
  limits: WorkerLimits = {}
): Promise<Result<ImportResult>> {
  if (text.length < INLINE_BYTES || !WORKER) {
    const { readImport } = await import('./import-file.ts')
    return readImport(text, fileName, existingNames)
  }
  const timeoutMs = limits.timeoutMs ?? 60_000
  const worker = new Worker(WORKER, {
    workerData: { text, fileName, existingNames },
    resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb ?? 512 }
  })
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      void worker.terminate()
      resolve(
        fail(
          'invalid-input',
          `Reading the file took longer than ${Math.round(timeoutMs / 1000)} s; nothing was imported`
        )
      )
    }, timeoutMs)
    const settle = (result: Result<ImportResult>): void => {
      clearTimeout(timer)
      resolve(result)
    }
    worker.once('message', (result: Result<ImportResult>) => settle(result))
    worker.once('error', (error) =>
      settle(fail('invalid-input', `The file could not be read: ${error.message}; nothing was imported`))
    )
    worker.once('exit', (code) => {
      if (code !== 0)
        settle(fail('invalid-input', `Reading the file stopped (exit code ${code}); nothing was imported`))
    })
  })
}
