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

  #query = globalThis.matchMedia?.('(prefers-color-scheme: dark)')
  #following = false

  /** Sets `data-theme` to light or dark on the document ("system" follows the OS, live). */
  apply(): void {
    const dark = this.#choice === 'dark' || (this.#choice === 'system' && this.#query?.matches === true)
    document.documentElement.dataset.theme = dark ? 'dark' : 'light'
    if (!this.#following) {
      this.#following = true
      this.#query?.addEventListener('change', () => this.apply())
    }
  }
}

export const theme = new Theme()
