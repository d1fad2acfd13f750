/**
 * Reads an import on a worker thread (see read-in-worker.ts): the text comes in `workerData`, the
 * `Result` goes back as one message.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { readImport } from './import-file.ts'

const { text, fileName, existingNames } = workerData as {
  text: string
  fileName: string | undefined
  existingNames: string[]
}
parentPort!.postMessage(readImport(text, fileName, existingNames))
