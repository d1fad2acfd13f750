/**
 * Which of Junction's languages to show for a list of preferred languages: the browser's for the
 * page, the OS's for the tray. One function for both, so that with "System" the desktop window and
 * its tray menu never disagree.
 *
 * Traditional Chinese (zh-TW, zh-HK, zh-MO, zh-Hant-*) does not get Simplified Chinese: the catalogue
 * is written in mainland script and vocabulary (网络, 默认, 配置); CLDR, Windows and macOS never fall
 * back from one script to the other, and Clash Verge Rev ships them as two catalogues. Such a tag is
 * passed over like any other language Junction lacks, so a list that names Simplified Chinese later
 * still gets it, and one that does not gets English.
 */

export const LANGUAGES = ['en', 'zh-CN'] as const
export type Language = (typeof LANGUAGES)[number]
/** What Settings → Language offers: a language, or "system" to follow the preferred languages. */
export const LANGUAGE_CHOICES = ['system', ...LANGUAGES] as const
export type LanguageChoice = (typeof LANGUAGE_CHOICES)[number]

/**
 * The first of Junction's languages in `preferred` (most preferred first), English when there is
 * none. Accepts BCP 47 tags (`zh-Hans-CN`, `en-US`) and POSIX locale names (`zh_CN.UTF-8`).
 */
export function languageFor(preferred: readonly string[]): Language {
  // Browsers and Linux add the bare language after a regional tag (`zh-TW`, `zh`): that `zh`
  // repeats the Traditional pick rather than asking for Simplified.
  let traditionalSeen = false
  for (const tag of preferred) {
    const locale = parse(tag)
    if (locale?.language === 'en') return 'en'
    if (locale?.language !== 'zh') continue
    const bare = locale.script === undefined && locale.region === undefined
    const script = locale.maximize().script
    if (script === 'Hans' && !(bare && traditionalSeen)) return 'zh-CN'
    if (script === 'Hant') traditionalSeen = true
  }
  return 'en'
}

/** The language shown for a choice: the choice itself, or the preferred languages' for "system". */
export function shownLanguage(choice: LanguageChoice | undefined, preferred: readonly string[]): Language {
  return choice === undefined || choice === 'system' ? languageFor(preferred) : choice
}

/** A tag as `Intl.Locale`, or null if it is not one (`C`, `POSIX`, garbage). */
function parse(tag: string): Intl.Locale | null {
  // POSIX names: `zh_TW.UTF-8`, `sr_RS@latin` → `zh-TW`, `sr-RS`.
  const bcp47 = tag
    .trim()
    .replace(/[.@].*$/, '')
    .replace(/_/g, '-')
  try {
    return new Intl.Locale(bcp47)
  } catch {
    return null
  }
}
