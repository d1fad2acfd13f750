/**
 * The request log: the last N requests and tunnels in memory (a ring), and optionally the same entries
 * as JSON lines in a file that rotates by size. Entries name hosts, never URLs, so they carry no
 * credentials or query strings; each line is passed through `redactUrl` as well, in case a host or
 * error text ever does.
 */
import { createWriteStream, promises as fs, type WriteStream } from 'node:fs'
import path from 'node:path'
import type { RequestLogEntry } from '../../common/model.ts'
import { redactUrl } from '../engine/upstream.ts'

export class RequestRing {
  readonly capacity: number
  private readonly items: (RequestLogEntry | undefined)[]
  private next = 0
  private count = 0

  constructor(capacity = 5000) {
    this.capacity = capacity
    this.items = new Array(capacity)
  }

  push(entry: RequestLogEntry): void {
    this.items[this.next] = entry
    this.next = (this.next + 1) % this.capacity
    this.count = Math.min(this.count + 1, this.capacity)
  }

  get size(): number {
    return this.count
  }

  /** Newest first, at most `limit`, optionally filtered. */
  list(limit = this.capacity, keep: (entry: RequestLogEntry) => boolean = () => true): RequestLogEntry[] {
    const out: RequestLogEntry[] = []
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const entry = this.items[(this.next - i + this.capacity) % this.capacity]!
      if (keep(entry)) out.push(entry)
    }
    return out
  }
}

export interface LogFileOptions {
  dir: string
  /** Rotate when the current file would exceed this size. */
  maxBytes?: number
  /** Rotated files kept besides the current one (requests.log.1 … .N). */
  keep?: number
}

export class RequestLogFile {
  readonly path: string
  private readonly maxBytes: number
  private readonly keep: number
  private stream: WriteStream | null = null
  private size = 0
  private rotating: Promise<void> = Promise.resolve()

  constructor(options: LogFileOptions) {
    this.path = path.join(options.dir, 'requests.log')
    this.maxBytes = options.maxBytes ?? 10 * 1024 * 1024
    this.keep = options.keep ?? 3
  }

  async open(): Promise<void> {
    await fs.mkdir(path.dirname(this.path), { recursive: true })
    this.size = await fs.stat(this.path).then(
      (s) => s.size,
      () => 0
    )
    this.stream = createWriteStream(this.path, { flags: 'a', mode: 0o600 })
  }

  write(entry: RequestLogEntry): void {
    const line = `${redactUrl(JSON.stringify(entry))}\n`
    const bytes = Buffer.byteLength(line)
    if (this.size + bytes > this.maxBytes && this.size > 0) {
      this.size = 0
      this.rotating = this.rotating.then(() => this.rotate())
    }
    this.size += bytes
    void this.rotating.then(() => this.stream?.write(line))
  }

  private async rotate(): Promise<void> {
    await this.closeStream()
    for (let i = this.keep; i >= 1; i--) {
      const from = i === 1 ? this.path : `${this.path}.${i - 1}`
      await fs.rename(from, `${this.path}.${i}`).catch(() => undefined)
    }
    this.stream = createWriteStream(this.path, { flags: 'a', mode: 0o600 })
  }

  private closeStream(): Promise<void> {
    const stream = this.stream
    this.stream = null
    return stream ? new Promise((resolve) => stream.end(resolve)) : Promise.resolve()
  }

  async close(): Promise<void> {
    await this.rotating
    await this.closeStream()
  }
}
