/**
 * The Rules view's state (rules-editor.svelte.ts): what a selection, a keyboard move in a filtered
 * view or a drop sends to main, that the local list then matches main's, and that undo sends the
 * inverse. The contract is mocked; main's side of the same calls is test/unit/rules/rule-edits.test.ts.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { PlacedRule, RulePlacement } from '../../common/ipc-contract.ts'
import type { Profile, Rule } from '../../common/model.ts'
import { placeAt } from '../../common/rule-order.ts'
import { profiles } from '../../renderer/src/lib/state/profiles.svelte.ts'
import { rulesEditor as editor } from '../../renderer/src/lib/state/rules-editor.svelte.ts'

const api = vi.hoisted(() => ({
  listProfiles: vi.fn<() => Promise<Profile[]>>(),
  moveRules:
    vi.fn<(id: string, p: RulePlacement[]) => Promise<{ ruleCount: number; before: RulePlacement[] }>>(),
  deleteRules: vi.fn<(id: string, ids: string[]) => Promise<{ ruleCount: number; removed: PlacedRule[] }>>(),
  addRules: vi.fn<(id: string, rules: PlacedRule[]) => Promise<{ ruleCount: number }>>(),
  setRulesEnabled: vi.fn<(id: string, ids: string[], on: boolean) => Promise<{ ruleCount: number }>>()
}))
// An AppError like api.ts's, without that module's WebSocket to a dashboard that is not there.
const AppError = vi.hoisted(
  () =>
    class AppError extends Error {
      readonly code: string
      constructor(code: string, message: string) {
        super(message)
        this.code = code
      }
    }
)
vi.mock('../../renderer/src/lib/api.ts', () => ({ api, AppError }))

const rule = (id: string, name?: string): Rule => ({
  id,
  ...(name ? { name } : {}),
  enabled: true,
  matchers: [{ type: 'domain', value: `${id}.test` }],
  action: { type: 'direct' }
})

/** Main's copy, changed the way main/rules/rule-edits.ts changes it. */
let stored: Rule[]
const order = (): string => profiles.list[0]!.rules.map((r) => r.id).join('')

beforeEach(async () => {
  vi.clearAllMocks()
  stored = [rule('a', 'keep'), rule('b'), rule('c', 'keep'), rule('d'), rule('e', 'keep'), rule('f')]
  const profile = (): Profile => ({
    id: 'p',
    name: 'P',
    upstreams: [],
    rules: structuredClone(stored),
    defaultAction: { type: 'direct' }
  })
  api.listProfiles.mockImplementation(async () => [profile()])
  api.moveRules.mockImplementation(async (_id, placements) => {
    const ids = new Set(placements.map((p) => p.ruleId))
    const before = stored.flatMap((r, index) => (ids.has(r.id) ? [{ ruleId: r.id, index }] : []))
    const byId = new Map(stored.map((r) => [r.id, r]))
    const placed = placeAt(
      stored.filter((r) => !ids.has(r.id)),
      placements.map((p) => ({ item: byId.get(p.ruleId)!, index: p.index }))
    )
    if (!placed.ok) throw new Error(placed.error.message)
    stored = placed.value
    return { ruleCount: stored.length, before }
  })
  api.deleteRules.mockImplementation(async (_id, ids) => {
    const removed = stored.flatMap((r, index) => (ids.includes(r.id) ? [{ rule: r, index }] : []))
    stored = stored.filter((r) => !ids.includes(r.id))
    return { ruleCount: stored.length, removed }
  })
  api.addRules.mockImplementation(async (_id, entries) => {
    const placed = placeAt(
      stored,
      entries.map((e) => ({ item: e.rule, index: e.index }))
    )
    if (!placed.ok) throw new Error(placed.error.message)
    stored = placed.value
    return { ruleCount: stored.length }
  })
  await profiles.load()
  editor.profileId = null
  editor.open('p')
  editor.query = ''
})

describe('the rules editor state', () => {
  it('in a filtered view, Alt+↑ moves a rule above the previous rule shown', async () => {
    editor.query = 'keep'
    expect(editor.visible).toEqual([0, 2, 4])
    editor.select('e')
    expect(await editor.moveBy(editor.targets(), -1)).toBe(true)
    expect(api.moveRules).toHaveBeenCalledWith('p', [{ ruleId: 'e', index: 2 }])
    expect(order()).toBe('abecdf')
    expect(order()).toBe(stored.map((r) => r.id).join(''))
  })

  it('Alt+↓ gathers a scattered selection below the next rule', async () => {
    editor.select('a')
    editor.select('c', { toggle: true })
    expect(editor.selectedIds()).toEqual(['a', 'c'])
    await editor.moveBy(editor.selectedIds(), 1)
    expect(order()).toBe('bdacef')
    // At the end there is nowhere to go: nothing is sent.
    editor.select('f')
    expect(await editor.moveBy(['f'], 1)).toBe(false)
    expect(api.moveRules).toHaveBeenCalledTimes(1)
  })

  it('a drop lands the dragged rules before the rule under the line, and undo puts them back', async () => {
    await editor.dropBefore(['a', 'b'], 4)
    expect(order()).toBe('cdabef')
    await editor.dropBefore(['c'], null)
    expect(order()).toBe('dabefc')
    await editor.undo()
    expect(order()).toBe('cdabef')
    await editor.undo()
    expect(order()).toBe('abcdef')
    expect(editor.undoStack).toEqual([])
  })

  it('Shift selects a range within the search, Ctrl+A only what it shows', () => {
    editor.query = 'keep'
    editor.select('a')
    editor.select('e', { range: true })
    expect(editor.selectedIds()).toEqual(['a', 'c', 'e'])
    editor.query = ''
    editor.select('b')
    editor.query = 'keep'
    editor.selectAllVisible()
    expect(editor.selectedIds()).toEqual(['a', 'c', 'e'])
  })

  it('deletes a selection and undo restores the order', async () => {
    await editor.remove(['b', 'e'])
    expect(order()).toBe('acdf')
    expect(editor.undoStack.at(-1)!.message).toBe('Deleted 2 rules')
    await editor.undo()
    expect(order()).toBe('abcdef')
    expect(api.addRules).toHaveBeenCalledWith('p', [
      { rule: expect.objectContaining({ id: 'b' }) as Rule, index: 1 },
      { rule: expect.objectContaining({ id: 'e' }) as Rule, index: 4 }
    ])
  })

  it('says why a change failed and leaves the list as main has it', async () => {
    api.setRulesEnabled.mockRejectedValueOnce(new Error('No rule with id "x" in profile "P"'))
    expect(await editor.setEnabled(['a'], false)).toBe(false)
    expect(editor.error).toBe('No rule with id "x" in profile "P"')
    expect(profiles.list[0]!.rules[0]!.enabled).toBe(true)
    expect(editor.undoStack).toEqual([])
  })

  it('reloads when main no longer has a rule (another window deleted it), and says so', async () => {
    stored = stored.filter((r) => r.id !== 'b')
    api.setRulesEnabled.mockRejectedValueOnce(
      new AppError('not-found', 'No rule with id "b" in profile "P"; it may have been changed elsewhere')
    )
    expect(await editor.setEnabled(['b'], false)).toBe(false)
    expect(editor.error).toBe(
      'No rule with id "b" in profile "P"; it may have been changed elsewhere. The list has been reloaded.'
    )
    expect(order()).toBe('acdef')
  })

  it('reloads when main’s rule count differs from the local one (another window changed it)', async () => {
    stored.push(rule('z'))
    api.listProfiles.mockClear()
    await editor.dropBefore(['a'], 2)
    expect(api.listProfiles).toHaveBeenCalledTimes(1)
    expect(order()).toBe('bacdefz')
  })
})
