/**
 * Forms with changes not yet saved, so that leaving the view (or the page) asks first instead of
 * dropping them. A form registers a check while it is shown; the first dirty one names itself.
 */
class UnsavedChanges {
  #checks = new Map<symbol, { what: string; dirty: () => boolean }>()

  /** Registers a form's check; returns the function that removes it (an `$effect` cleanup). */
  watch(what: string, dirty: () => boolean): () => void {
    const key = Symbol(what)
    this.#checks.set(key, { what, dirty })
    return () => this.#checks.delete(key)
  }

  /** What has unsaved changes, in words (`Settings`), or null when nothing does. */
  pending(): string | null {
    for (const check of this.#checks.values()) if (check.dirty()) return check.what
    return null
  }
}

export const unsaved = new UnsavedChanges()
