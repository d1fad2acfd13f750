/**
 * Upstream passwords at rest. The desktop app seals them with the OS keychain (Electron's
 * safeStorage) before they reach profiles.json; headless mode has no keychain and stores them as
 * written (the file is created readable by the user only). A sealed password that cannot be opened
 * here (a file written by the desktop app, read by headless mode) is kept sealed on disk, never lost,
 * and reported; the upstream is used without it.
 */
export interface SecretCodec {
  seal(plain: string): string
  open(sealed: string): string
}

export const SEALED_PREFIX = 'sealed:'

export const isSealed = (value: string | undefined): value is string =>
  value?.startsWith(SEALED_PREFIX) === true

interface RawUpstream {
  id?: unknown
  password?: unknown
}
interface RawProfile {
  id?: unknown
  name?: unknown
  upstreams?: unknown
}

/**
 * Opens sealed passwords in a raw profiles document, in place. Returns the ones that could not be
 * opened, by `profileId/upstreamId`, so they can be written back unchanged.
 */
export function openSecrets(
  raw: unknown,
  codec: SecretCodec | null,
  problems: string[]
): Map<string, string> {
  const unopened = new Map<string, string>()
  const profiles = (raw as { profiles?: unknown } | null)?.profiles
  if (!Array.isArray(profiles)) return unopened
  for (const profile of profiles as RawProfile[]) {
    if (!Array.isArray(profile?.upstreams)) continue
    for (const upstream of profile.upstreams as RawUpstream[]) {
      const sealed = upstream?.password
      if (typeof sealed !== 'string' || !isSealed(sealed)) continue
      const key = `${String(profile.id)}/${String(upstream.id)}`
      try {
        if (!codec) throw new Error('no keychain is available here')
        upstream.password = codec.open(sealed.slice(SEALED_PREFIX.length))
      } catch (error) {
        unopened.set(key, sealed)
        delete upstream.password
        problems.push(
          `the password of upstream "${String(upstream.id)}" in profile "${String(profile.name)}" is sealed by the desktop app's keychain and cannot be opened here (${(error as Error).message}); the upstream is used without it`
        )
      }
    }
  }
  return unopened
}

/**
 * What Junction says at start when there is no keychain (headless mode, or a desktop without one):
 * where passwords sit unencrypted, naming the upstreams (`profile/upstream`) that have one stored —
 * never a password.
 */
export function unsealedWarning(stored: readonly string[]): string {
  const shown = stored.slice(0, 5).map((name) => `"${name}"`)
  if (stored.length > shown.length) shown.push(`${stored.length - shown.length} more`)
  const which = stored.length > 0 ? ` (${stored.length} stored: ${shown.join(', ')})` : ''
  return `warning: no OS keychain is available here: upstream passwords in profiles.json${which} and the HTTPS interception CA key (ca/junction-ca.key) are stored unencrypted, readable by your user only`
}
