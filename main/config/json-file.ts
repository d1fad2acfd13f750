/**
 * One JSON document on disk, versioned, validated and written atomically.
 *
 * Loading never changes the disk: whatever the file holds, it is left exactly as it is.
 * - Missing file: defaults, nothing reported.
 * - Unparsable or unusable file: defaults, the reason reported.
 * - Partly invalid file (the parser kept what it could and listed the rest): the valid part is used and
 *   every invalid field is reported once.
 * - In both cases the user's file is only replaced when Junction saves a change, and then the original
 *   is first copied to `<name>.corrupt-<timestamp>`; if that copy fails the save is refused. So a
 *   broken file costs nothing until the user changes something, and is never lost when they do.
 * - Unreadable file (permissions): defaults, and saving is refused, since it could not be kept.
 * - File from a newer Junction: left untouched and the store turns read-only, so an older version
 *   cannot destroy settings it does not understand.
 * - Writes go to a temporary file that is fsynced and renamed over the old one, so a crash leaves
 *   either the old or the new document, never half of one. Writes equal to the last one are skipped;
 *   the last one is remembered by its digest, not its text, which would keep a copy of the whole file
 *   (130 KiB for a profile of 1,000 rules) in memory for as long as Junction runs.
 */
import { createHash, randomBytes } from 'node:crypto'
import { constants, promises as fs } from 'node:fs'
import path from 'node:path'
import { fail, ok, type Failure, type Result } from '../../common/result.ts'
import { configText } from './json-text.ts'

/** A document the parser could use, with what it had to leave out (each naming its field). */
export interface Parsed<T> {
  value: T
  problems?: string[]
}

export interface JsonFileOptions<T> {
  path: string
  /** The version this build writes. */
  version: number
  defaults: () => T
  /**
   * Checks a migrated document (without its `version` field). A failure means nothing in it is
   * usable; `problems` mean the parser kept the valid part.
   */
  parse: (data: Record<string, unknown>) => Result<Parsed<T>>
  /** `migrations[n]` turns a version-n document into version n+1. Files without `version` are version 0. */
  migrations?: Record<number, (data: Record<string, unknown>) => Record<string, unknown>>
  now?: () => Date
}

export interface LoadReport {
  /** What was wrong with the file, in words; null when it loaded as written (or was missing). */
  problem: string | null
}

export class JsonFile<T> {
  private readonly options: JsonFileOptions<T>
  /** Digest of the text last written, or read when already in this build's format: a save of the same text is skipped. */
  private lastWritten: string | null = null
  private readOnlyReason: string | null = null
  /** Set when the file on disk did not load as written: copy it aside before replacing it. */
  private keepBeforeSave = false

  constructor(options: JsonFileOptions<T>) {
    this.options = options
  }

  get path(): string {
    return this.options.path
  }

  async load(): Promise<{ value: T } & LoadReport> {
    let text: string
    try {
      text = await fs.readFile(this.options.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { value: this.options.defaults(), problem: null }
      this.readOnlyReason = `${this.options.path} cannot be read, so it is not overwritten`
      return this.unusable(`cannot be read (${(error as Error).message}); it will not be overwritten`)
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (error) {
      return this.unusable(`is not valid JSON: ${(error as Error).message}${this.keptNote()}`)
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      return this.unusable(`does not contain a JSON object${this.keptNote()}`)

    const migrated = this.migrate(raw as Record<string, unknown>)
    if (!migrated.ok) {
      if (migrated.error.code === 'read-only') {
        this.readOnlyReason = migrated.error.message
        return { value: this.options.defaults(), problem: migrated.error.message }
      }
      return this.unusable(`${migrated.error.message}${this.keptNote()}`)
    }
    const parsed = this.options.parse(migrated.value)
    if (!parsed.ok)
      return this.unusable(
        `is invalid: ${(parsed.error.details ?? [parsed.error.message]).join('; ')}${this.keptNote()}`
      )
    const problems = parsed.value.problems ?? []
    if (problems.length > 0) {
      this.keepBeforeSave = true
      return {
        value: parsed.value.value,
        problem: `${this.options.path} has invalid entries, ignored: ${problems.join('; ')}${this.keptNote()}`
      }
    }
    this.lastWritten = migrated.wasCurrent ? digest(text) : null
    return { value: parsed.value.value, problem: null }
  }

  private migrate(
    raw: Record<string, unknown>
  ): { ok: true; value: Record<string, unknown>; wasCurrent: boolean } | Failure {
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

  private keptNote(): string {
    return ` (the file was left as it is; before Junction first saves ${path.basename(this.options.path)}, the original is copied to ${path.basename(this.options.path)}.corrupt-<time>)`
  }

  private unusable(reason: string): { value: T } & LoadReport {
    this.keepBeforeSave = true
    return { value: this.options.defaults(), problem: `${this.options.path} ${reason}; defaults were loaded` }
  }

  /**
   * Writes `doc` (the stored value, plus any fields the store preserves) with this build's version;
   * lists given as `LineList` are written one item per line (json-text.ts).
   */
  async save(doc: object): Promise<Result<void>> {
    if (this.readOnlyReason) return fail('read-only', this.readOnlyReason)
    const text = `${configText({ version: this.options.version, ...doc })}
`
    const written = digest(text)
    if (written === this.lastWritten) return ok(undefined)
    try {
      if (this.keepBeforeSave) await this.keepOriginal()
      await writeAtomically(this.options.path, text)
    } catch (error) {
      return fail('io-error', `Could not save ${this.options.path}: ${(error as Error).message}`)
    }
    this.lastWritten = written
    return ok(undefined)
  }

  /** Copies the file that did not load as written, so replacing it loses nothing. */
  private async keepOriginal(): Promise<void> {
    const stamp = (this.options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-')
    try {
      await fs.copyFile(this.options.path, `${this.options.path}.corrupt-${stamp}`, constants.COPYFILE_EXCL)
    } catch (error) {
      // Gone since it was loaded: nothing to keep.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new Error(
          `the original could not be kept (${(error as Error).message}), so it was not replaced`,
          { cause: error }
        )
    }
    this.keepBeforeSave = false
  }
}

const digest = (text: string): string => createHash('sha256').update(text).digest('base64')

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
