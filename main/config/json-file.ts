/**
 * One JSON document on disk, versioned, validated and written atomically.
 *
 * - Missing file: defaults, nothing reported.
 * - Unreadable, unparsable or invalid file: moved aside to `<name>.corrupt-<timestamp>`, defaults
 *   loaded, the reason reported. The broken file is kept for the user, never overwritten.
 * - File from a newer Junction: left untouched and the store turns read-only, so an older version
 *   cannot destroy settings it does not understand.
 * - Writes go to a temporary file that is fsynced and renamed over the old one, so a crash leaves
 *   either the old or the new document, never half of one. Writes equal to the last one are skipped.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fail, ok, type Failure, type Result } from '../../common/result.ts'

export interface JsonFileOptions<T> {
  path: string
  /** The version this build writes. */
  version: number
  defaults: () => T
  /** Checks a migrated document (without its `version` field). */
  parse: (data: unknown) => Result<T>
  /** `migrations[n]` turns a version-n document into version n+1. Files without `version` are version 0. */
  migrations?: Record<number, (data: Record<string, unknown>) => Record<string, unknown>>
  now?: () => Date
}

export interface LoadReport {
  /** What went wrong, in words, when the file could not be used. */
  problem: string | null
  /** Where the unusable file was moved, if it was. */
  movedTo: string | null
}

export class JsonFile<T> {
  private readonly options: JsonFileOptions<T>
  private lastWritten: string | null = null
  private readOnlyReason: string | null = null

  constructor(options: JsonFileOptions<T>) {
    this.options = options
  }

  get path(): string {
    return this.options.path
  }

  /** Non-null when saving is refused (the file was written by a newer version). */
  get readOnly(): string | null {
    return this.readOnlyReason
  }

  async load(): Promise<{ value: T } & LoadReport> {
    let text: string
    try {
      text = await fs.readFile(this.options.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { value: this.options.defaults(), problem: null, movedTo: null }
      return this.setAside(`cannot be read: ${(error as Error).message}`)
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (error) {
      return this.setAside(`is not valid JSON: ${(error as Error).message}`)
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      return this.setAside('does not contain a JSON object')

    const migrated = this.migrate(raw as Record<string, unknown>)
    if (!migrated.ok) {
      if (migrated.error.code === 'read-only') {
        this.readOnlyReason = migrated.error.message
        return { value: this.options.defaults(), problem: migrated.error.message, movedTo: null }
      }
      return this.setAside(migrated.error.message)
    }
    const parsed = this.options.parse(migrated.value)
    if (!parsed.ok)
      return this.setAside(`is invalid: ${(parsed.error.details ?? [parsed.error.message]).join('; ')}`)
    this.lastWritten = migrated.wasCurrent ? text : null
    return { value: parsed.value, problem: null, movedTo: null }
  }

  private migrate(raw: Record<string, unknown>): { ok: true; value: unknown; wasCurrent: boolean } | Failure {
    const { version: rawVersion, ...data } = raw
    const version = rawVersion === undefined ? 0 : rawVersion
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 0)
      return fail('invalid-input', `has an invalid "version" field (${JSON.stringify(rawVersion)})`)
    if (version > this.options.version)
      return fail(
        'read-only',
        `${this.options.path} was written by a newer Junction (format version ${version}, this one reads up to ${this.options.version}); it was left untouched and changes will not be saved`
      )
    let doc: Record<string, unknown> = data
    for (let v = version; v < this.options.version; v++) {
      const step = this.options.migrations?.[v]
      if (!step) return fail('invalid-input', `has format version ${v}, which this Junction cannot upgrade`)
      doc = step(doc)
    }
    return { ok: true, value: doc, wasCurrent: version === this.options.version }
  }

  private async setAside(reason: string): Promise<{ value: T } & LoadReport> {
    const stamp = (this.options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-')
    const aside = `${this.options.path}.corrupt-${stamp}`
    let movedTo: string | null = aside
    try {
      await fs.rename(this.options.path, aside)
    } catch {
      movedTo = null
      // If it cannot be moved, do not risk overwriting it either.
      this.readOnlyReason = `${this.options.path} is unusable and could not be moved aside`
    }
    const where = movedTo ? `; it was moved to ${aside} and defaults were loaded` : '; defaults were loaded'
    return { value: this.options.defaults(), problem: `${this.options.path} ${reason}${where}`, movedTo }
  }

  async save(value: T): Promise<Result<void>> {
    if (this.readOnlyReason) return fail('read-only', this.readOnlyReason)
    const text = `${JSON.stringify({ version: this.options.version, ...(value as object) }, null, 2)}\n`
    if (text === this.lastWritten) return ok(undefined)
    try {
      await writeAtomically(this.options.path, text)
    } catch (error) {
      return fail('io-error', `Could not save ${this.options.path}: ${(error as Error).message}`)
    }
    this.lastWritten = text
    return ok(undefined)
  }
}

export async function writeAtomically(file: string, text: string): Promise<void> {
  const dir = path.dirname(file)
  await fs.mkdir(dir, { recursive: true })
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await fs.open(temp, 'w', 0o600)
  try {
    await handle.writeFile(text, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await fs.rename(temp, file)
  } catch (error) {
    await fs.rm(temp, { force: true })
    throw error
  }
  // Make the rename itself durable; not every platform lets a directory be opened for this.
  try {
    const dirHandle = await fs.open(dir, 'r')
    await dirHandle.sync().finally(() => dirHandle.close())
  } catch {
    /* best effort (Windows) */
  }
}
