/**
 * Keyboard shortcuts for the common actions, listed in the help overlay (`?`). Pure: a key press in,
 * an action out, so the mapping is tested without a page. Alt+letter rather than Ctrl+letter: Ctrl
 * combinations belong to the browser (the dashboard) and to text fields.
 */
export type ShortcutAction =
  | { type: 'toggle-system-proxy' }
  | { type: 'next-profile' }
  | { type: 'focus-search' }
  | { type: 'go'; index: number }
  | { type: 'help' }

import type { MessageKey } from './i18n/en.ts'

export interface KeyPress {
  key: string
  code?: string
  altKey: boolean
  ctrlKey: boolean
  metaKey: boolean
  shiftKey: boolean
  /** The key went to a text field, select or editable element, where plain keys are typing. */
  inField: boolean
}

/** Keys are shown as typed on any keyboard; what they do is a catalogue message. */
export const SHORTCUTS: { keys: string; does: MessageKey }[] = [
  { keys: 'Alt+S', does: 'shortcuts.toggleSystemProxy' },
  { keys: 'Alt+P', does: 'shortcuts.nextProfile' },
  { keys: '/', does: 'shortcuts.search' },
  { keys: 'Alt+1 … Alt+7', does: 'shortcuts.go' },
  { keys: '?', does: 'shortcuts.help' },
  { keys: 'Esc', does: 'shortcuts.escape' }
]

export function shortcutFor(press: KeyPress): ShortcutAction | null {
  if (press.ctrlKey || press.metaKey) return null
  if (press.altKey) {
    // `code`, not `key`: on macOS Alt+S types "ß".
    const code = press.code ?? ''
    if (code === 'KeyS') return { type: 'toggle-system-proxy' }
    if (code === 'KeyP') return { type: 'next-profile' }
    const digit = /^Digit([1-9])$/.exec(code)
    if (digit) return { type: 'go', index: Number(digit[1]) - 1 }
    return null
  }
  if (press.inField) return null
  if (press.key === '/') return { type: 'focus-search' }
  if (press.key === '?') return { type: 'help' }
  return null
}

/** Whether a key press lands where plain keys are text. */
export function isTextTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false
  if (target.isContentEditable) return true
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true
  return (
    target instanceof HTMLInputElement && !['checkbox', 'radio', 'button', 'submit'].includes(target.type)
  )
}
