/**
 * Junction's own backup: every profile and the settings in one JSON document (`junction-config`,
 * version 1, the format `exportConfig`/`importConfig` have always used). Passwords — upstream
 * passwords and the proxy's own credentials — are written only when the user asks, since a backup
 * tends to be mailed, synced and left in download folders.
 *
 * Read back through the same import as other tools' files, a backup gives new profiles (new ids,
 * names kept), so it can be restored next to what is there without replacing anything.
 */
import { DIRECT_PROFILE, type Profile, type Settings } from '../../common/model.ts'
import { parseProfile } from '../rules/validate.ts'
import type { SkipList } from './import-summary.ts'
import { newProfileId } from './profile-builder.ts'

export const BACKUP_FORMAT = 'junction-config'

export function buildBackup(profiles: Profile[], settings: Settings, includePasswords: boolean): string {
  const list = profiles
    .filter((p) => p.id !== DIRECT_PROFILE.id)
    .map((p) =>
      includePasswords ? p : { ...p, upstreams: p.upstreams.map(({ password: _password, ...u }) => u) }
    )
  const { proxyAuth, ...rest } = settings
  const exported = includePasswords ? { ...rest, proxyAuth } : rest
  return JSON.stringify({ format: BACKUP_FORMAT, version: 1, settings: exported, profiles: list }, null, 2)
}

export function isBackup(doc: unknown): doc is { profiles: unknown[]; settings?: unknown } {
  const value = doc as { format?: unknown; profiles?: unknown } | null
  return value?.format === BACKUP_FORMAT && Array.isArray(value.profiles)
}

export function importBackup(doc: { profiles: unknown[]; settings?: unknown }, skipped: SkipList): Profile[] {
  const profiles: Profile[] = []
  for (const raw of doc.profiles) {
    const parsed = parseProfile(raw)
    if (!parsed.ok) {
      skipped.skip('profiles that are not valid', parsed.error.message)
      continue
    }
    profiles.push({ ...parsed.value, id: newProfileId(parsed.value.name) })
    if (parsed.value.upstreams.some((u) => u.username && u.password === undefined))
      skipped.note(
        `"${parsed.value.name}": the backup has no passwords; enter them for its upstreams before using it`
      )
  }
  if (doc.settings !== undefined)
    skipped.note('Settings in the backup are not applied: importing adds profiles only')
  return profiles
}
