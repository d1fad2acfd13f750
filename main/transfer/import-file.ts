/**
 * An import from start to finish, without saving: detect the format, read it into profiles, check
 * each profile as a save would (`parseProfile`), and summarise what was left out. The service saves
 * the result; the CLI's `--import` and the UI's preview show the same summary.
 */
import type { ImportFormat, ImportSummary } from '../../common/ipc-contract.ts'
import type { Profile } from '../../common/model.ts'
import { ok, type Result } from '../../common/result.ts'
import type { ProfileStore } from '../profiles/profile-store.ts'
import { parseProfile } from '../rules/validate.ts'
import { importBackup } from './backup.ts'
import { detectFormat } from './detect.ts'
import { importClash } from './import-clash.ts'
import { importFoxyProxy } from './import-foxyproxy.ts'
import { SkipList } from './import-summary.ts'
import { importSwitchyOmega } from './import-switchyomega.ts'

export interface ImportResult {
  format: ImportFormat
  profiles: Profile[]
  summary: ImportSummary
}

/** `existingNames`: profile names already in use; imported profiles with those names are renamed. */
export function readImport(
  text: string,
  fileName?: string,
  existingNames: string[] = []
): Result<ImportResult> {
  const detected = detectFormat(text, fileName)
  if (!detected.ok) return detected
  const { format, doc } = detected.value
  const skipped = new SkipList()
  const read =
    format === 'switchyomega'
      ? importSwitchyOmega(doc, skipped)
      : format === 'foxyproxy'
        ? importFoxyProxy(doc, skipped)
        : format === 'clash'
          ? importClash(doc, skipped, fileName)
          : importBackup(doc as { profiles: unknown[] }, skipped)
  const profiles: Profile[] = []
  for (const profile of read) {
    const checked = parseProfile(profile)
    if (checked.ok) profiles.push(checked.value)
    else skipped.skip('profiles Junction could not make valid', checked.error.message)
  }
  const named = withUniqueNames(profiles, existingNames)
  return ok({ format, profiles: named, summary: skipped.summary(format, named) })
}

/** `name`, or `name (2)`, `name (3)` … — the first that none of `taken` uses (profile names are unique). */
function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name
  for (let n = 2; taken.has(candidate); n++) {
    const suffix = ` (${n})`
    candidate = `${name.slice(0, 100 - suffix.length)}${suffix}`
  }
  return candidate
}

/** Renames profiles whose names are taken (by existing profiles or earlier ones in the list). */
function withUniqueNames(profiles: Profile[], existing: string[]): Profile[] {
  const taken = new Set(existing)
  return profiles.map((profile) => {
    const name = uniqueName(profile.name, taken)
    taken.add(name)
    return name === profile.name ? profile : { ...profile, name }
  })
}

/**
 * Saves imported profiles all or none: the store writes one profile at a time, so when one fails
 * (the disk is full, the directory read-only) those already written are removed again.
 */
export async function saveImported(store: ProfileStore, profiles: Profile[]): Promise<Result<void>> {
  const saved: string[] = []
  for (const profile of profiles) {
    const result = await store.put(profile)
    if (!result.ok) {
      for (const id of saved.reverse()) await store.remove(id)
      return result
    }
    saved.push(profile.id)
  }
  return ok(undefined)
}

/**
 * Names and examples come from the file: a profile named "x\n[junction] proxy listening on …" must
 * not print a line of its own, so control characters are shown escaped.
 */
const printable = (text: string): string =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1))

/** The summary as lines for a terminal (`npm run serve -- --import FILE`). */
export function summaryLines(summary: ImportSummary): string[] {
  const lines = [`imported ${summary.profiles.length} profile(s) from a ${summary.format} file:`]
  for (const p of summary.profiles)
    lines.push(
      `  "${printable(p.name)}": ${p.upstreams} upstream(s), ${p.groups} group(s), ${p.rules} rule(s)`
    )
  if (summary.skipped.length > 0) lines.push('not imported:')
  for (const s of summary.skipped)
    lines.push(`  ${s.count} × ${printable(s.what)}, e.g. ${s.examples.map(printable).join(' | ')}`)
  for (const note of summary.notes) lines.push(`note: ${printable(note)}`)
  return lines
}
