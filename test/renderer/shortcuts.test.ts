import { describe, expect, it } from 'vitest'
import { isTextTarget, shortcutFor, type KeyPress } from '../../renderer/src/lib/shortcuts.ts'

const press = (key: string, more: Partial<KeyPress> = {}): KeyPress => ({
  key,
  altKey: false,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  inField: false,
  ...more
})

describe('shortcutFor', () => {
  it('maps Alt+S, Alt+P and Alt+digits by key position, whatever character the layout types', () => {
    expect(shortcutFor(press('ß', { altKey: true, code: 'KeyS' }))).toEqual({ type: 'toggle-system-proxy' })
    expect(shortcutFor(press('π', { altKey: true, code: 'KeyP' }))).toEqual({ type: 'next-profile' })
    expect(shortcutFor(press('3', { altKey: true, code: 'Digit3' }))).toEqual({ type: 'go', index: 2 })
    // Alt shortcuts work from a text field too: Alt+letter types nothing there on Windows and Linux.
    expect(shortcutFor(press('s', { altKey: true, code: 'KeyS', inField: true }))).toEqual({
      type: 'toggle-system-proxy'
    })
  })

  it('leaves plain keys to text fields and Ctrl/Cmd combinations to the browser', () => {
    expect(shortcutFor(press('/'))).toEqual({ type: 'focus-search' })
    expect(shortcutFor(press('?', { shiftKey: true }))).toEqual({ type: 'help' })
    expect(shortcutFor(press('/', { inField: true }))).toBeNull()
    expect(shortcutFor(press('?', { inField: true }))).toBeNull()
    expect(shortcutFor(press('s', { ctrlKey: true, code: 'KeyS' }))).toBeNull()
    expect(shortcutFor(press('s', { altKey: true, metaKey: true, code: 'KeyS' }))).toBeNull()
    expect(shortcutFor(press('x', { altKey: true, code: 'KeyX' }))).toBeNull()
    expect(shortcutFor(press('a'))).toBeNull()
  })
})

describe('isTextTarget', () => {
  it('counts text inputs, text areas, selects and editable elements, not checkboxes or buttons', () => {
    const make = (html: string): Element => {
      const host = document.createElement('div')
      host.innerHTML = html
      return host.firstElementChild!
    }
    expect(isTextTarget(make('<input type="search">'))).toBe(true)
    expect(isTextTarget(make('<input>'))).toBe(true)
    expect(isTextTarget(make('<textarea></textarea>'))).toBe(true)
    expect(isTextTarget(make('<select></select>'))).toBe(true)
    expect(isTextTarget(make('<input type="checkbox">'))).toBe(false)
    expect(isTextTarget(make('<button>x</button>'))).toBe(false)
    expect(isTextTarget(null)).toBe(false)
  })
})
