/**
 * The app's toasts (state/toasts.svelte.ts) and their host (Toasts.svelte): when a note leaves by
 * itself and when it must not, what its action does, how many stay, and the keyboard and pointer
 * paths a person uses to read, undo or dismiss one.
 */
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte'
import { tick } from 'svelte'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import Toasts from '../../renderer/src/lib/components/Toasts.svelte'
import {
  MAX_TOASTS,
  TIMEOUT_MS,
  TIMEOUT_WITH_ACTION_MS,
  toasts
} from '../../renderer/src/lib/state/toasts.svelte.ts'

const messages = (): string[] => toasts.list.map((t) => t.message)

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  for (const toast of [...toasts.list]) toasts.dismiss(toast.id)
  toasts.release('pointer')
  toasts.release('focus')
  cleanup()
  vi.useRealTimers()
})

describe('toasts store', () => {
  it('a note leaves after its timeout, not before; one with an action stays longer', () => {
    toasts.show({ message: 'Saved' })
    toasts.show({ message: 'Deleted', action: { label: 'Undo', run: () => {} } })
    vi.advanceTimersByTime(TIMEOUT_MS - 1)
    expect(messages()).toEqual(['Saved', 'Deleted'])
    vi.advanceTimersByTime(1)
    expect(messages()).toEqual(['Deleted'])
    vi.advanceTimersByTime(TIMEOUT_WITH_ACTION_MS - TIMEOUT_MS)
    expect(messages()).toEqual([])
  })

  it('holding (pointer over, focus in) stops every clock, and only the time left runs afterwards', () => {
    toasts.show({ message: 'Closed 3 connections.' })
    vi.advanceTimersByTime(TIMEOUT_MS - 1000)
    toasts.hold('pointer')
    toasts.hold('focus')
    vi.advanceTimersByTime(60_000)
    expect(messages()).toEqual(['Closed 3 connections.'])
    toasts.release('pointer')
    vi.advanceTimersByTime(60_000)
    expect(messages(), 'the focus still holds it').toEqual(['Closed 3 connections.'])
    toasts.release('focus')
    vi.advanceTimersByTime(999)
    expect(messages()).toEqual(['Closed 3 connections.'])
    vi.advanceTimersByTime(1)
    expect(messages()).toEqual([])
  })

  it('timeoutMs: null keeps a note until dismissed', () => {
    const id = toasts.show({ message: 'Deleted 2 rules.', timeoutMs: null })
    vi.advanceTimersByTime(10 * 60_000)
    expect(messages()).toEqual(['Deleted 2 rules.'])
    toasts.dismiss(id)
    expect(messages()).toEqual([])
  })

  it('runs the action once, even when clicked twice meanwhile, then the note leaves', async () => {
    let finish = (): void => {}
    const run = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)))
    const id = toasts.show({ message: 'Deleted “Work”.', action: { label: 'Undo', run } })
    const first = toasts.act(id)
    expect(toasts.list[0]!.busy).toBe(true)
    await toasts.act(id)
    expect(run).toHaveBeenCalledTimes(1)
    finish()
    await first
    expect(messages()).toEqual([])
  })

  it('does not run an action that says it is disabled', async () => {
    const run = vi.fn()
    const id = toasts.show({ message: 'Moved', action: { label: 'Undo', run, disabled: () => true } })
    await toasts.act(id)
    expect(run).not.toHaveBeenCalled()
    expect(messages()).toEqual(['Moved'])
  })

  it(`keeps at most ${MAX_TOASTS}: a newer note pushes out the oldest, whose timer no longer fires`, () => {
    for (let n = 1; n <= MAX_TOASTS + 2; n++) toasts.show({ message: `note ${n}` })
    expect(messages()).toEqual(['note 3', 'note 4', 'note 5'])
    toasts.show({ message: 'later', timeoutMs: null })
    vi.advanceTimersByTime(TIMEOUT_MS)
    expect(messages()).toEqual(['later'])
  })

  it('a note with the key of one shown replaces it in place; dismissKey removes it', () => {
    toasts.show({ message: 'first' })
    toasts.show({ key: 'rules-undo', message: 'Deleted 1 rule.', timeoutMs: null })
    toasts.show({ message: 'last' })
    toasts.show({ key: 'rules-undo', message: 'Moved rule to #2.', timeoutMs: null })
    expect(messages()).toEqual(['first', 'Moved rule to #2.', 'last'])
    toasts.dismissKey('rules-undo')
    expect(messages()).toEqual(['first', 'last'])
  })
})

describe('Toasts host', () => {
  it('is a polite live region that is there before any note, so that additions are announced', () => {
    render(Toasts)
    const region = screen.getByRole('region', { name: 'Notifications' })
    expect(region.getAttribute('aria-live')).toBe('polite')
    expect(region.children).toHaveLength(0)
  })

  it('Undo runs the action; ✕ and Escape dismiss; pointer over the notes holds their timers', async () => {
    render(Toasts)
    const run = vi.fn()
    toasts.show({ message: 'Deleted “Work”.', action: { label: 'Undo', run } })
    toasts.show({ message: 'Closed 2 connections.' })
    toasts.show({ message: 'Cleared the recorded exchanges.' })
    await tick()
    expect(screen.getAllByTestId('toast').map((n) => n.textContent)).toEqual([
      expect.stringContaining('Deleted “Work”.'),
      expect.stringContaining('Closed 2 connections.'),
      expect.stringContaining('Cleared the recorded exchanges.')
    ])

    const region = screen.getByRole('region', { name: 'Notifications' })
    await fireEvent.pointerEnter(region)
    vi.advanceTimersByTime(TIMEOUT_WITH_ACTION_MS * 3)
    expect(screen.getAllByTestId('toast')).toHaveLength(3)
    await fireEvent.pointerLeave(region)

    await fireEvent.click(screen.getByRole('button', { name: 'Undo' }))
    expect(run).toHaveBeenCalledTimes(1)
    await vi.waitFor(() => expect(messages()).not.toContain('Deleted “Work”.'))

    const dismiss = screen.getAllByRole('button', { name: 'Dismiss' })
    await fireEvent.click(dismiss[0]!)
    expect(messages()).toEqual(['Cleared the recorded exchanges.'])

    await fireEvent.keyDown(screen.getByRole('button', { name: 'Dismiss' }), { key: 'Escape' })
    expect(messages()).toEqual([])
  })
})
