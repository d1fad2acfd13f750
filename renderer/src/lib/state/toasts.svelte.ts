/**
 * Short notes about actions that finished ("Deleted “Work”", "Closed 12 connections"), shown by one
 * host in the corner of the app (Toasts.svelte), some with one action such as Undo. Validation errors
 * do not come here: they stay next to the field they are about.
 *
 * A note leaves by itself after a while, but not while the pointer is over the notes or the focus is
 * in them (someone reading or reaching for Undo keeps it), nor when it was shown with no timeout.
 */

/** The one button a note may carry, e.g. Undo. */
export interface ToastAction {
  label: string
  /** Says its own failures where its view says them; the note leaves once it settles either way. */
  run(): unknown
  /** Read while the note is shown: true greys the button out (e.g. while an earlier undo runs). */
  disabled?(): boolean
}

export interface ToastInput {
  message: string
  action?: ToastAction
  /** Milliseconds before the note leaves by itself; `null` keeps it until dismissed or replaced. */
  timeoutMs?: number | null
  /** A note shown with the key of one already shown replaces it (e.g. the Rules view's latest undo). */
  key?: string
}

export interface Toast {
  readonly id: number
  readonly message: string
  readonly action?: ToastAction
  readonly key?: string
  /** True while its action runs: the button is disabled so a double click does not undo twice. */
  busy: boolean
}

/** Long enough to read a sentence and reach the button; with an action people may want, longer. */
export const TIMEOUT_MS = 6000
export const TIMEOUT_WITH_ACTION_MS = 10_000
/** Notes shown at once; a newer one pushes out the oldest. */
export const MAX_TOASTS = 3

interface Timer {
  /** Time left when paused, or when it runs, the time left at `startedAt`. */
  remaining: number
  startedAt: number
  handle: ReturnType<typeof setTimeout> | null
}

class Toasts {
  list = $state<Toast[]>([])
  #nextId = 1
  #timers = new Map<number, Timer>()
  /** Why the timers are held: the pointer is over the notes, the focus is in them. */
  #holds = new Set<string>()

  /** Shows a note and returns its id. */
  show(input: ToastInput): number {
    const id = this.#nextId++
    const toast: Toast = { id, message: input.message, action: input.action, key: input.key, busy: false }
    const replaced = input.key === undefined ? -1 : this.list.findIndex((t) => t.key === input.key)
    if (replaced >= 0) {
      this.#stop(this.list[replaced]!.id)
      this.list[replaced] = toast
    } else {
      this.list.push(toast)
      while (this.list.length > MAX_TOASTS) this.#stop(this.list.shift()!.id)
    }
    const timeout =
      input.timeoutMs === undefined ? (input.action ? TIMEOUT_WITH_ACTION_MS : TIMEOUT_MS) : input.timeoutMs
    if (timeout !== null) {
      this.#timers.set(id, { remaining: timeout, startedAt: 0, handle: null })
      if (this.#holds.size === 0) this.#run(id)
    }
    return id
  }

  dismiss(id: number): void {
    this.#stop(id)
    const at = this.list.findIndex((t) => t.id === id)
    if (at >= 0) this.list.splice(at, 1)
  }

  /** Dismisses the note shown with this key, if any (e.g. when the view it belongs to closes). */
  dismissKey(key: string): void {
    const toast = this.list.find((t) => t.key === key)
    if (toast) this.dismiss(toast.id)
  }

  /** Runs a note's action once, then the note leaves (unless a newer one with its key replaced it). */
  async act(id: number): Promise<void> {
    const toast = this.list.find((t) => t.id === id)
    if (!toast?.action || toast.busy || toast.action.disabled?.()) return
    toast.busy = true
    this.#stop(id)
    try {
      await toast.action.run()
    } finally {
      this.dismiss(id)
    }
  }

  /** Holds every timer for one reason (pointer over, focus in) until `release(reason)`. */
  hold(reason: string): void {
    if (this.#holds.has(reason)) return
    this.#holds.add(reason)
    if (this.#holds.size > 1) return
    const now = Date.now()
    for (const timer of this.#timers.values()) {
      if (timer.handle === null) continue
      clearTimeout(timer.handle)
      timer.handle = null
      timer.remaining -= now - timer.startedAt
    }
  }

  release(reason: string): void {
    if (!this.#holds.delete(reason) || this.#holds.size > 0) return
    for (const id of this.#timers.keys()) this.#run(id)
  }

  #run(id: number): void {
    const timer = this.#timers.get(id)
    if (!timer || timer.handle !== null) return
    timer.startedAt = Date.now()
    timer.handle = setTimeout(() => this.dismiss(id), Math.max(0, timer.remaining))
  }

  #stop(id: number): void {
    const handle = this.#timers.get(id)?.handle
    if (handle) clearTimeout(handle)
    this.#timers.delete(id)
  }
}

export const toasts = new Toasts()
