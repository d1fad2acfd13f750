/**
 * The Rules view's working state for one profile: search, selection, and the per-rule changes it sends
 * (add, update, delete, move, enable), each with its undo. A change is sent as the few rules it
 * touches; once main has saved it, the same change is applied to the local copy (common/rule-order.ts
 * computes the order as main does) instead of reloading every profile. If main's rule count differs
 * from the local one afterwards, another window changed the profile too, and the list is reloaded.
 */
import type { PlacedRule, RulePlacement } from '../../../../common/ipc-contract.ts'
import type { Profile, Rule } from '../../../../common/model.ts'
import { blockAt, placeAt } from '../../../../common/rule-order.ts'
import { api, AppError } from '../api.ts'
import { RuleSearchIndex } from '../components/rules/rule-text.ts'
import { t } from '../i18n/locale.svelte.ts'
import { isUnreachable } from '../link.ts'
import { profiles } from './profiles.svelte.ts'

export interface UndoEntry {
  /** What was done, e.g. `Deleted 3 rules`; the toast shows it next to Undo. */
  message: string
  undo: () => Promise<void>
}

/** Undo steps kept; older ones are dropped. */
const UNDO_DEPTH = 20

class RulesEditor {
  profileId = $state<string | null>(null)
  query = $state('')
  /** Selected rule ids. */
  selected = $state.raw<ReadonlySet<string>>(new Set())
  /** The rule the keyboard is on, and the start of a Shift range. */
  activeId = $state<string | null>(null)
  anchorId = $state<string | null>(null)
  busy = $state(false)
  error = $state<string | null>(null)
  /** `error` is main's message alone, in English (the page marks it so); otherwise it is the UI's words. */
  errorFromMain = $state(false)
  undoStack = $state.raw<UndoEntry[]>([])
  readonly #search = new RuleSearchIndex()

  readonly profile: Profile | undefined = $derived(profiles.list.find((p) => p.id === this.profileId))
  /** Positions in the profile's list of the rules the search shows, in list order. */
  readonly visible: number[] = $derived(this.profile ? this.#search.filter(this.profile, this.query) : [])
  readonly positions: ReadonlyMap<string, number> = $derived(
    new Map((this.profile?.rules ?? []).map((rule, i) => [rule.id, i]))
  )

  open(profileId: string): void {
    if (profileId === this.profileId) return
    this.profileId = profileId
    this.selected = new Set()
    this.activeId = this.anchorId = null
    this.undoStack = []
    this.error = null
  }

  /** Computes every rule's search text ahead of the first search. */
  warmSearch(): void {
    const profile = this.profile
    if (profile) for (const rule of profile.rules) this.#search.text(rule, profile)
  }

  /** Selected rules in list order. */
  selectedIds(): string[] {
    const rules = this.profile?.rules ?? []
    return rules.filter((r) => this.selected.has(r.id)).map((r) => r.id)
  }

  /** Click: only this rule; Shift: the range from the anchor (within the search); Ctrl/⌘: toggle it. */
  select(id: string, how: { range?: boolean; toggle?: boolean } = {}): void {
    if (how.range && this.anchorId) {
      const ids = this.visible.map((i) => this.profile!.rules[i]!.id)
      const a = ids.indexOf(this.anchorId)
      const b = ids.indexOf(id)
      if (a >= 0 && b >= 0) {
        const range = ids.slice(Math.min(a, b), Math.max(a, b) + 1)
        this.selected = new Set(how.toggle ? [...this.selected, ...range] : range)
        this.activeId = id
        return
      }
    }
    if (how.toggle)
      this.selected = this.selected.has(id)
        ? new Set([...this.selected].filter((s) => s !== id))
        : new Set([...this.selected, id])
    else this.selected = new Set([id])
    this.activeId = this.anchorId = id
  }

  /** Ctrl+A: every rule the search shows. */
  selectAllVisible(): void {
    this.selected = new Set(this.visible.map((i) => this.profile!.rules[i]!.id))
  }

  clearSelection(): void {
    this.selected = new Set()
  }

  /** The rules an action applies to: the selection, else the active rule. */
  targets(): string[] {
    const ids = this.selectedIds()
    return ids.length > 0 ? ids : this.activeId && this.positions.has(this.activeId) ? [this.activeId] : []
  }

  // ── Changes ──────────────────────────────────────────────────────────────

  /** Runs one change; on success applies `local` to the copy and offers `undo`. */
  async #change(
    send: () => Promise<{ ruleCount: number }>,
    local: (rules: readonly Rule[]) => Rule[],
    undo: UndoEntry | null
  ): Promise<boolean> {
    const profile = this.profile
    // One change at a time: each is computed from the list as the previous one left it (a held
    // Alt+↓ repeats faster than a save of a large profile completes).
    if (!profile || this.busy) return false
    this.busy = true
    try {
      const { ruleCount } = await send()
      const next = local(profile.rules)
      if (ruleCount === next.length) profiles.setRules(profile.id, next)
      else await profiles.load()
      if (undo) this.undoStack = [...this.undoStack, undo].slice(-UNDO_DEPTH)
      this.error = null
      return true
    } catch (error) {
      this.errorFromMain = false
      if (isUnreachable(error)) this.error = t('rules.unreachable')
      else if (error instanceof AppError && error.code === 'not-found') {
        // Another window changed the profile: show the list as it is now.
        this.error = `${error.message}. ${t('rules.reloaded')}`
        await profiles.load()
      } else {
        this.error = (error as Error).message
        this.errorFromMain = true
      }
      return false
    } finally {
      this.busy = false
    }
  }

  #placed(entries: readonly PlacedRule[]) {
    return (rules: readonly Rule[]): Rule[] => {
      const placed = placeAt(
        rules,
        entries.map(({ rule, index }) => ({ item: rule, index }))
      )
      return placed.ok ? placed.value : [...rules]
    }
  }

  #moved(placements: readonly RulePlacement[]) {
    return (rules: readonly Rule[]): Rule[] => {
      const ids = new Set(placements.map((p) => p.ruleId))
      const byId = new Map(rules.filter((r) => ids.has(r.id)).map((r) => [r.id, r]))
      const placed = placeAt(
        rules.filter((r) => !ids.has(r.id)),
        placements.map((p) => ({ item: byId.get(p.ruleId)!, index: p.index }))
      )
      return placed.ok ? placed.value : [...rules]
    }
  }

  /** Adds rules at `at` (the end when absent), in the order given. */
  add(rules: Rule[], at?: number): Promise<boolean> {
    const id = this.profileId!
    const start = at ?? this.profile?.rules.length ?? 0
    const entries = rules.map((rule, i) => ({ rule, index: start + i }))
    const ids = rules.map((r) => r.id)
    const message =
      rules.length === 1
        ? t('rules.addedOne', { name: rules[0]!.name || ids[0]! })
        : t('rules.added', { count: rules.length })
    return this.#change(() => api.addRules(id, entries), this.#placed(entries), {
      message,
      undo: async () => void (await this.#remove(ids, false))
    })
  }

  update(rule: Rule): Promise<boolean> {
    const id = this.profileId!
    const previous = this.profile?.rules.find((r) => r.id === rule.id)
    const replace = (next: Rule) => (rules: readonly Rule[]) =>
      rules.map((r) => (r.id === next.id ? next : r))
    return this.#change(
      () => api.updateRule(id, rule),
      replace(rule),
      previous
        ? {
            message: t('rules.savedOne', { name: rule.name || rule.id }),
            undo: async () =>
              void (await this.#change(() => api.updateRule(id, previous), replace(previous), null))
          }
        : null
    )
  }

  remove(ids: string[]): Promise<boolean> {
    return this.#remove(ids, true)
  }

  async #remove(ids: string[], undoable: boolean): Promise<boolean> {
    const id = this.profileId!
    let removed: PlacedRule[] = []
    const gone = new Set(ids)
    const ok = await this.#change(
      async () => {
        const result = await api.deleteRules(id, ids)
        removed = result.removed
        return result
      },
      (rules) => rules.filter((r) => !gone.has(r.id)),
      undoable
        ? {
            message:
              ids.length === 1
                ? t('rules.deletedOne', { name: this.#label(ids[0]!) })
                : t('rules.deleted', { count: ids.length }),
            undo: async () =>
              void (await this.#change(() => api.addRules(id, removed), this.#placed(removed), null))
          }
        : null
    )
    if (ok) this.selected = new Set([...this.selected].filter((s) => !gone.has(s)))
    return ok
  }

  /** Moves `ids` (in list order) as one block whose first rule lands at position `to`. */
  async move(ids: string[], to: number): Promise<boolean> {
    const id = this.profileId!
    const rest = (this.profile?.rules.length ?? 0) - ids.length
    const placements = blockAt(ids, Math.max(0, Math.min(to, rest)))
    if (placements.every((p) => this.positions.get(p.ruleId) === p.index)) return true
    let before: RulePlacement[] = []
    return this.#change(
      async () => {
        const result = await api.moveRules(id, placements)
        before = result.before
        return result
      },
      this.#moved(placements),
      {
        message:
          ids.length === 1
            ? t('rules.movedOne', { name: this.#label(ids[0]!), position: placements[0]!.index + 1 })
            : t('rules.moved', { count: ids.length, position: placements[0]!.index + 1 }),
        undo: async () =>
          void (await this.#change(() => api.moveRules(id, before), this.#moved(before), null))
      }
    )
  }

  /**
   * Alt+↑/↓: the block of `ids` goes past the next rule the search shows that is not in it, so in a
   * filtered view a move is always visible.
   */
  moveBy(ids: string[], delta: -1 | 1): Promise<boolean> {
    const rules = this.profile?.rules ?? []
    const moving = new Set(ids)
    const first = this.positions.get(ids[0]!) ?? 0
    const last = this.positions.get(ids.at(-1)!) ?? 0
    const neighbours = this.visible.filter((i) => !moving.has(rules[i]!.id))
    const neighbour = delta < 0 ? neighbours.findLast((i) => i < first) : neighbours.find((i) => i > last)
    if (neighbour === undefined) return Promise.resolve(false)
    // Its position once the moving rules are taken out; down goes after it, up before it.
    const taken = ids.filter((r) => (this.positions.get(r) ?? 0) < neighbour).length
    return this.move(ids, neighbour - taken + (delta > 0 ? 1 : 0))
  }

  /** Drops `ids` just before the rule at list position `before` (or at the end when it is null). */
  dropBefore(ids: string[], before: number | null): Promise<boolean> {
    if (ids.length === 0) return Promise.resolve(false)
    if (before === null) return this.move(ids, (this.profile?.rules.length ?? 0) - ids.length)
    // The rule's position once the dragged rules are taken out.
    const taken = ids.filter((r) => (this.positions.get(r) ?? 0) < before).length
    return this.move(ids, before - taken)
  }

  setEnabled(ids: string[], enabled: boolean): Promise<boolean> {
    const id = this.profileId!
    const changed = ids.filter((r) => this.profile?.rules[this.positions.get(r) ?? -1]?.enabled !== enabled)
    if (changed.length === 0) return Promise.resolve(true)
    const apply = (on: boolean) => (rules: readonly Rule[]) => {
      const set = new Set(changed)
      return rules.map((r) => (set.has(r.id) ? { ...r, enabled: on } : r))
    }
    return this.#change(() => api.setRulesEnabled(id, changed, enabled), apply(enabled), {
      message: t(enabled ? 'rules.enabled' : 'rules.disabled', { count: changed.length }),
      undo: async () =>
        void (await this.#change(() => api.setRulesEnabled(id, changed, !enabled), apply(!enabled), null))
    })
  }

  /** Undoes the latest change still on the stack. */
  async undo(): Promise<void> {
    const entry = this.undoStack.at(-1)
    if (!entry || this.busy) return
    this.undoStack = this.undoStack.slice(0, -1)
    await entry.undo()
  }

  #label(id: string): string {
    const rule = this.profile?.rules[this.positions.get(id) ?? -1]
    return rule?.name || id
  }
}

export const rulesEditor = new RulesEditor()
