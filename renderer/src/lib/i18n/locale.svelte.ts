/**
 * The UI language: follows the browser's languages unless the user picks one; kept in localStorage,
 * like the theme, since it concerns this UI only. `t()` reads the current language, so every
 * template that calls it re-renders the moment the choice changes, without a reload.
 *
 * Messages that come from main (validation and engine errors) stay English for now.
 */
import {
  LANGUAGE_CHOICES,
  languageFor,
  type Language,
  type LanguageChoice
} from '../../../../common/language.ts'
import { en, type MessageKey } from './en.ts'
import type { Message } from './messages.ts'
import { zhCN } from './zh-CN.ts'

export type { Language, LanguageChoice }
const KEY = 'junction:language'

const CATALOGUES: Record<Language, Record<MessageKey, Message>> = { en, 'zh-CN': zhCN }

function stored(): LanguageChoice {
  const value = globalThis.localStorage?.getItem(KEY)
  return LANGUAGE_CHOICES.find((choice) => choice === value) ?? 'system'
}

class Locale {
  #choice = $state<LanguageChoice>(stored())
  #system = $state<Language>(languageFor(globalThis.navigator?.languages ?? []))
  #following = false

  get choice(): LanguageChoice {
    return this.#choice
  }

  set choice(value: LanguageChoice) {
    this.#choice = value
    globalThis.localStorage?.setItem(KEY, value)
    this.apply()
  }

  /** The language shown now. */
  get current(): Language {
    return this.#choice === 'system' ? this.#system : this.#choice
  }

  /** Sets `<html lang>` and, for "System", follows changes of the browser's languages. */
  apply(): void {
    document.documentElement.lang = this.current
    if (!this.#following) {
      this.#following = true
      addEventListener('languagechange', () => {
        this.#system = languageFor(navigator.languages)
        this.apply()
      })
    }
  }
}

export const locale = new Locale()

const PLURAL_RULES: Record<Language, Intl.PluralRules> = {
  en: new Intl.PluralRules('en'),
  'zh-CN': new Intl.PluralRules('zh-CN')
}

/**
 * The message for `key` in the current language, with `{name}` placeholders filled from `params`.
 * A plural message picks its form by `params.count`, which is formatted for the language.
 */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const language = locale.current
  const message = CATALOGUES[language][key]
  let text: string
  if (typeof message === 'string') text = message
  else {
    const category = PLURAL_RULES[language].select(Number(params?.count ?? 0))
    text = (category === 'one' ? message.one : undefined) ?? message.other
  }
  if (!params) return text
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name]
    if (value === undefined) return whole
    // Counts get digit grouping; ports, ids and the like are left as they are.
    return name === 'count' && typeof value === 'number' ? formatNumber(value) : String(value)
  })
}

/** A number formatted for the current language (digit grouping). */
export function formatNumber(value: number): string {
  return new Intl.NumberFormat(locale.current).format(value)
}

/** A time of day for the current language, 24-hour. */
export function formatTime(at: number): string {
  return new Intl.DateTimeFormat(locale.current, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23'
  }).format(at)
}
