/**
 * The request log: the last N requests and tunnels in memory (a ring), and optionally the same entries
 * as JSON lines in a file that rotates by size. Entries name hosts, never URLs, so they carry no
 * credentials or query strings; each line is passed through `redactUrl` as well, in case a host or
 * error text ever does.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { RequestLogEntry } from '../../common/model.ts'
import { redactUrl } from '../engine/upstream.ts'

/**
 * The last N entries, stored by field in flat arrays rather than as one object per entry. Every entry
 * outlives several young-generation collections, so stored objects would each be copied into the old
 * generation and later swept there: measurable per request at thousands of requests a second. Entry
 * objects are built only when read.
 */
export class RequestRing {
  readonly capacity: number
  /** at, connectionId, port, status, up, down, durationMs, rewritten per entry. */
  private readonly numbers: Float64Array
  /** method, host, error, profileId, ruleId, route per entry. */
  private readonly strings: (string | null)[]
  private next = 0
  private count = 0

  constructor(capacity = 5000) {
    this.capacity = capacity
    this.numbers = new Float64Array(capacity * 8)
    this.strings = new Array<string | null>(capacity * 6).fill(null)
  }

  push(e: RequestLogEntry): void {
    const n = this.next * 8
    const numbers = this.numbers
    numbers[n] = e.at
    numbers[n + 1] = e.connectionId
    numbers[n + 2] = e.port
    numbers[n + 3] = e.status
    numbers[n + 4] = e.up
    numbers[n + 5] = e.down
    numbers[n + 6] = e.durationMs
    numbers[n + 7] = e.rewritten
    const s = this.next * 6
    const strings = this.strings
    strings[s] = e.method
    strings[s + 1] = e.host
    strings[s + 2] = e.error
    strings[s + 3] = e.profileId
    strings[s + 4] = e.ruleId
    strings[s + 5] = e.route
    this.next = (this.next + 1) % this.capacity
    this.count = Math.min(this.count + 1, this.capacity)
  }

  get size(): number {
    return this.count
  }

  clear(): void {
    this.next = 0
    this.count = 0
    this.strings.fill(null)
  }

  /** Newest first, at most `limit`, optionally filtered. */
  list(limit = this.capacity, keep: (entry: RequestLogEntry) => boolean = () => true): RequestLogEntry[] {
    const out: RequestLogEntry[] = []
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const entry = this.entry((this.next - i + this.capacity) % this.capacity)
      if (keep(entry)) out.push(entry)
    }
    return out
  }

  /**
   * Every entry, oldest first, as JSON lines: each line is what JSON.stringify(entry) gives, ending in
   * a newline. Built straight from the fields: building entry objects and stringifying them cost about
   * twice as much.
   */
  jsonLines(): string {
    const numbers = this.numbers
    const strings = this.strings
    // The same few methods, hosts, ids and routes recur throughout a batch: each is quoted once.
    const quoted = new Map<string, string>()
    const q = (value: string | null | undefined): string => {
      if (value == null) return 'null'
      let json = quoted.get(value)
      if (json === undefined) quoted.set(value, (json = JSON.stringify(value)))
      return json
    }
    // Consecutive entries often start in the same millisecond, and a 13-digit number is slow to format.
    let lastAt = NaN
    let atJson = ''
    let text = ''
    for (let i = 0; i < this.count; i++) {
      const slot = (this.next - this.count + i + this.capacity) % this.capacity
      const n = slot * 8
      const s = slot * 6
      const at = numbers[n]!
      if (at !== lastAt) atJson = String((lastAt = at))
      text +=
        `{"at":${atJson},"connectionId":${numbers[n + 1]},"method":${q(strings[s])},"host":${q(strings[s + 1])},` +
        `"port":${numbers[n + 2]},"status":${numbers[n + 3]},"error":${q(strings[s + 2])},` +
        `"profileId":${q(strings[s + 3])},"ruleId":${q(strings[s + 4])},"route":${q(strings[s + 5])},` +
        `"up":${numbers[n + 4]},"down":${numbers[n + 5]},"durationMs":${numbers[n + 6]},"rewritten":${numbers[n + 7]}}\n`
    }
    return text
  }

  private entry(slot: number): RequestLogEntry {
    const n = slot * 8
    const s = slot * 6
    const numbers = this.numbers
    const strings = this.strings
    return {
      at: numbers[n]!,
      connectionId: numbers[n + 1]!,
      method: strings[s]!,
      host: strings[s + 1]!,
      port: numbers[n + 2]!,
      status: numbers[n + 3]!,
      error: strings[s + 2] ?? null,
      profileId: strings[s + 3]!,
      ruleId: strings[s + 4] ?? null,
      route: strings[s + 5]!,
      up: numbers[n + 4]!,
      down: numbers[n + 5]!,
      durationMs: numbers[n + 6]!,
      rewritten: numbers[n + 7]!
    }
  }
}

/** The text as bytes, any user:password@ credentials redacted (only text with an `@` can hold them). */
function encodeRedacted(text: string): Buffer {
  const data = Buffer.from(text)
  return data.includes(0x40) ? Buffer.from(redactUrl(text)) : data
}

export interface LogFileOptions {
  dir: string
  /** Rotate when the current file would exceed this size. */
  maxBytes?: number
  /** Rotated files kept besides the current one (requests.log.1 … .N). */
  keep?: number
  /**
   * A write that failed (disk full, directory removed): the batch is dropped, logging goes on. Called
   * when an error first happens, not for every batch after it.
   */
  onError?: (message: string) => void
}

/**
 * Entries are collected in memory (a RequestRing, for the same reason as the ring itself) and written
 * once a second or every 1,000: one write per batch instead of one per request keeps logging off the
 * proxy's hot path.
 */
export class RequestLogFile {
  readonly path: string
  private readonly maxBytes: number
  private readonly keep: number
  private size = 0
  private readonly pending = new RequestRing(1000)
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> = Promise.resolve()
  private readonly onError: (message: string) => void
  private reported: string | null = null

  constructor(options: LogFileOptions) {
    this.path = path.join(options.dir, 'requests.log')
    this.maxBytes = options.maxBytes ?? 10 * 1024 * 1024
    this.keep = options.keep ?? 3
    this.onError = options.onError ?? (() => undefined)
  }

  async open(): Promise<void> {
    await fs.mkdir(path.dirname(this.path), { recursive: true })
    this.size = await fs.stat(this.path).then(
      (s) => s.size,
      () => 0
    )
    this.timer = setInterval(() => void this.flush(), 1000)
    this.timer.unref()
  }

  write(entry: RequestLogEntry): void {
    this.pending.push(entry)
    if (this.pending.size === this.pending.capacity) void this.flush()
  }

  /** Appends what is pending, rotating first whenever the file would grow past its limit. */
  private flush(): Promise<void> {
    if (this.pending.size === 0) return this.writing
    // Encoded now: a batch waits for earlier writes as bytes, not as strings the collector must copy.
    const data = encodeRedacted(this.pending.jsonLines())
    this.pending.clear()
    // A failed write must not reject the chain: nothing awaits a timer's flush, and an unhandled
    // rejection would end the process.
    this.writing = this.writing.then(() =>
      this.appendRotating(data).then(
        () => void (this.reported = null),
        (error: Error) => {
          const message = `request log not written to ${this.path}: ${error.message}`
          if (message !== this.reported) this.onError((this.reported = message))
        }
      )
    )
    return this.writing
  }

  /** Appends whole lines, rotating before the line that would take the file past its limit. */
  private async appendRotating(data: Buffer): Promise<void> {
    if (this.size + data.length <= this.maxBytes) return this.append(data)
    let start = 0 // first byte not yet appended
    let end = 0 // end of the lines that fit
    while (end < data.length) {
      const next = data.indexOf(0x0a, end) + 1
      if (this.size + (next - start) > this.maxBytes && this.size + (end - start) > 0) {
        if (end > start) await this.append(data.subarray(start, end))
        start = end
        await this.rotate()
      }
      end = next
    }
    if (end > start) await this.append(data.subarray(start, end))
  }

  private async append(data: Buffer): Promise<void> {
    await fs.appendFile(this.path, data, { mode: 0o600 })
    this.size += data.length
  }

  private async rotate(): Promise<void> {
    for (let i = this.keep; i >= 1; i--) {
      const from = i === 1 ? this.path : `${this.path}.${i - 1}`
      await fs.rename(from, `${this.path}.${i}`).catch(() => undefined)
    }
    this.size = 0
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.flush()
  }
}
