/**
 * The UI theme: follows the system unless the user picks light or dark; kept in localStorage, since
 * it concerns this UI only.
 */
type Choice = 'system' | 'light' | 'dark'
const KEY = 'junction:theme'

class Theme {
  #choice = $state<Choice>((globalThis.localStorage?.getItem(KEY) as Choice | null) ?? 'system')

  get choice(): Choice {
    return this.#choice
  }

  set choice(value: Choice) {
    this.#choice = value
    globalThis.localStorage?.setItem(KEY, value)
    this.apply()
  }

  /** Sets `color-scheme` on the document, which the CSS variables follow. */
  apply(): void {
    document.documentElement.dataset.theme = this.#choice
  }
}

export const theme = new Theme()
