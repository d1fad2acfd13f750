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
  /** at, connectionId, port, status, up, down, durationMs per entry. */
  private readonly numbers: Float64Array
  /** method, host, error, profileId, ruleId, route per entry. */
  private readonly strings: (string | null)[]
  private next = 0
  private count = 0

  constructor(capacity = 5000) {
    this.capacity = capacity
    this.numbers = new Float64Array(capacity * 7)
    this.strings = new Array<string | null>(capacity * 6).fill(null)
  }

  push(e: RequestLogEntry): void {
    const n = this.next * 7
    const numbers = this.numbers
    numbers[n] = e.at
    numbers[n + 1] = e.connectionId
    numbers[n + 2] = e.port
    numbers[n + 3] = e.status
    numbers[n + 4] = e.up
    numbers[n + 5] = e.down
    numbers[n + 6] = e.durationMs
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

  /** Every entry, oldest first. */
  all(): RequestLogEntry[] {
    return this.list().reverse()
  }

  private entry(slot: number): RequestLogEntry {
    const n = slot * 7
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
      durationMs: numbers[n + 6]!
    }
  }
}

/**
 * Characters JSON.stringify escapes in a string (surrogates: when unpaired); the names and ids logged
 * here almost never hold one, and the test is cheaper than stringifying.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/
const str = (value: string | null): string =>
  value === null ? 'null' : NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`

/** The same text as JSON.stringify(entry), built directly: only the strings need escaping. */
export function entryJson(e: RequestLogEntry): string {
  return (
    `{"at":${e.at},"connectionId":${e.connectionId},"method":${str(e.method)},"host":${str(e.host)},` +
    `"port":${e.port},"status":${e.status},"error":${str(e.error)},"profileId":${str(e.profileId)},` +
    `"ruleId":${str(e.ruleId)},"route":${str(e.route)},"up":${e.up},"down":${e.down},"durationMs":${e.durationMs}}`
  )
}

/** Only text with an `@` can hold user:password@ credentials. */
function redactLines(text: string): string {
  return text.includes('@') ? redactUrl(text) : text
}

export interface LogFileOptions {
  dir: string
  /** Rotate when the current file would exceed this size. */
  maxBytes?: number
  /** Rotated files kept besides the current one (requests.log.1 … .N). */
  keep?: number
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
    const entries = this.pending.all()
    this.pending.clear()
    this.writing = this.writing.then(async () => {
      const lines = entries.map(entryJson)
      const text = redactLines(`${lines.join('\n')}\n`)
      const bytes = Buffer.byteLength(text)
      if (this.size + bytes <= this.maxBytes) return this.append(text, bytes)
      // Rotation is due within this batch: place it line by line.
      let chunk = ''
      let chunkBytes = 0
      for (const json of lines) {
        const line = redactLines(`${json}\n`)
        const lineBytes = Buffer.byteLength(line)
        if (this.size + chunkBytes + lineBytes > this.maxBytes && this.size + chunkBytes > 0) {
          if (chunk) await this.append(chunk, chunkBytes)
          chunk = ''
          chunkBytes = 0
          await this.rotate()
        }
        chunk += line
        chunkBytes += lineBytes
      }
      if (chunk) await this.append(chunk, chunkBytes)
    })
    return this.writing
  }

  private async append(text: string, bytes: number): Promise<void> {
    await fs.appendFile(this.path, text, { mode: 0o600 })
    this.size += bytes
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
