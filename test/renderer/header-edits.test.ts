/**
 * Header edits in the Rules view: rows are added from the keyboard, each field says what the shared
 * schema (common/model.ts) says about it, and saving sends the rule's `rewrite` in the stored shape.
 */
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { PlacedRule, RuleHit } from '../../common/ipc-contract.ts'
import type { Profile, Rule } from '../../common/model.ts'
import HeaderEditsEditor from '../../renderer/src/lib/components/HeaderEditsEditor.svelte'
import type { HeaderEditRow } from '../../renderer/src/lib/components/form-checks.ts'
import Rules from '../../renderer/src/views/Rules.svelte'

const api = vi.hoisted(() => ({
  listProfiles: vi.fn<() => Promise<Profile[]>>(),
  addRules: vi.fn<(profileId: string, rules: PlacedRule[]) => Promise<{ ruleCount: number }>>(),
  updateRule: vi.fn<(profileId: string, rule: Rule) => Promise<{ ruleCount: number }>>(),
  getRuleHits: vi.fn<(profileId: string) => Promise<RuleHit[]>>()
}))
vi.mock('../../renderer/src/lib/api.ts', () => ({ api }))

const WORK: Profile = {
  id: 'work',
  name: 'Work',
  upstreams: [],
  rules: [
    {
      id: 'staging',
      name: 'Staging',
      enabled: true,
      matchers: [{ type: 'host', value: 'app.test' }],
      action: { type: 'direct' },
      rewrite: { request: [{ op: 'set', name: 'X-Env', value: 'staging' }] }
    }
  ],
  defaultAction: { type: 'direct' }
}

let stored: Profile
beforeEach(() => {
  stored = structuredClone(WORK)
  api.listProfiles.mockImplementation(async () => [structuredClone(stored)])
  // Per-rule saves: the view sends one rule, never the profile.
  api.addRules.mockImplementation(async (_id, entries) => {
    for (const { rule, index } of entries) stored.rules.splice(index, 0, structuredClone(rule))
    return { ruleCount: stored.rules.length }
  })
  api.updateRule.mockImplementation(async (_id, rule) => {
    stored.rules = stored.rules.map((r) => (r.id === rule.id ? structuredClone(rule) : r))
    return { ruleCount: stored.rules.length }
  })
  api.getRuleHits.mockResolvedValue([])
})
afterEach(() => {
  cleanup()
  vi.clearAllMocks()
})

async function renderRules(): Promise<void> {
  render(Rules)
  await screen.findByText('Staging')
}

/** The rule panel, opened by New rule or by a rule's Edit button. */
async function openPanel(button: string): Promise<HTMLFormElement> {
  await fireEvent.click(screen.getByRole('button', { name: button }))
  return (await screen.findByTestId('add-rule')) as HTMLFormElement
}

describe('header edits in the Rules view', () => {
  it('summarises a rule’s edits in the list', async () => {
    await renderRules()
    expect(screen.getByTestId('rule-edits').textContent).toBe('· 1 header edit')
  })

  it('adds an edit, shows the schema’s message for "Bad Name", and saves the rewrite', async () => {
    await renderRules()
    const form = await openPanel('New rule')
    await fireEvent.input(within(form).getByTestId('matcher-value'), { target: { value: 'api.test' } })
    const add = within(form).getByRole('button', { name: 'Add request header edit' })
    await fireEvent.click(add)
    const name = within(form).getByLabelText('Request header edit 1: name')
    // The new row's name field takes the focus, so typing can go on from the keyboard.
    expect(document.activeElement).toBe(name)

    await fireEvent.input(name, { target: { value: 'Bad Name' } })
    const message = await within(form).findByText(/must be a header name/)
    expect(name.getAttribute('aria-invalid')).toBe('true')
    expect(name.getAttribute('aria-describedby')).toBe(message.id)
    await fireEvent.click(within(form).getByTestId('save-rule'))
    expect((await screen.findByTestId('rule-error')).textContent).toMatch(
      /request header edit #1, name: must be a header name/
    )
    expect(api.addRules).not.toHaveBeenCalled()

    await fireEvent.input(name, { target: { value: 'X-Debug' } })
    await fireEvent.input(within(form).getByLabelText('Request header edit 1: value'), {
      target: { value: '1' }
    })
    await fireEvent.click(within(form).getByRole('button', { name: 'Add response header edit' }))
    await fireEvent.change(within(form).getByLabelText('Response header edit 1: operation'), {
      target: { value: 'remove' }
    })
    expect((within(form).getByLabelText('Response header edit 1: value') as HTMLInputElement).disabled).toBe(
      true
    )
    await fireEvent.input(within(form).getByLabelText('Response header edit 1: name'), {
      target: { value: 'Set-Cookie' }
    })
    expect(name.getAttribute('aria-invalid')).toBe('false')
    await fireEvent.click(within(form).getByTestId('save-rule'))

    await waitFor(() => expect(api.addRules).toHaveBeenCalledTimes(1))
    const [profileId, [added]] = api.addRules.mock.calls[0]!
    expect(profileId).toBe('work')
    expect(added!.index).toBe(1)
    expect(added!.rule.rewrite).toEqual({
      request: [{ op: 'set', name: 'X-Debug', value: '1' }],
      response: [{ op: 'remove', name: 'Set-Cookie' }]
    })
    await waitFor(() =>
      expect(screen.getAllByTestId('rule-edits').map((e) => e.textContent)).toEqual([
        '· 1 header edit',
        '· 2 header edits'
      ])
    )
  })

  it('keeps a rule’s edits when it is edited, and drops one removed from the table', async () => {
    await renderRules()
    const form = await openPanel('Edit Staging')
    expect((within(form).getByLabelText('Request header edit 1: value') as HTMLInputElement).value).toBe(
      'staging'
    )
    await fireEvent.click(within(form).getByRole('button', { name: 'Remove request header edit 1' }))
    // With the last row gone, focus moves to the add button rather than being lost.
    expect(document.activeElement).toBe(within(form).getByRole('button', { name: 'Add request header edit' }))
    await fireEvent.click(within(form).getByTestId('save-rule'))
    await waitFor(() => expect(api.updateRule).toHaveBeenCalledTimes(1))
    expect(api.updateRule.mock.calls[0]![1].rewrite).toBeUndefined()
  })

  it('saves Intercept HTTPS with the rule, shows it in the list, and reads it back when editing', async () => {
    await renderRules()
    expect(screen.queryByTestId('rule-intercepts')).toBeNull()
    const form = await openPanel('Edit Staging')
    const box = within(form).getByRole('checkbox', { name: 'Intercept HTTPS' }) as HTMLInputElement
    expect(box.checked).toBe(false)
    await fireEvent.click(box)
    await fireEvent.click(within(form).getByTestId('save-rule'))
    await waitFor(() => expect(api.updateRule).toHaveBeenCalledTimes(1))
    expect(api.updateRule.mock.calls[0]![1].intercept).toBe(true)
    expect((await screen.findByTestId('rule-intercepts')).textContent).toBe('· intercepts HTTPS')
    const again = await openPanel('Edit Staging')
    expect(
      (within(again).getByRole('checkbox', { name: 'Intercept HTTPS' }) as HTMLInputElement).checked
    ).toBe(true)
  })
})

describe('HeaderEditsEditor', () => {
  const row = (patch: Partial<HeaderEditRow>): HeaderEditRow => ({
    key: 'h1',
    op: 'set',
    name: '',
    value: '',
    ...patch
  })

  it('reports empty fields only after a save attempt, and protected names at once', async () => {
    const props = { direction: 'response' as const, rows: [row({})], attempted: false, onchange: vi.fn() }
    const { rerender } = render(HeaderEditsEditor, props)
    expect(screen.queryByText(/must not be empty|needs a value/)).toBeNull()
    await rerender({ ...props, attempted: true })
    expect(screen.getByText('must not be empty')).toBeTruthy()
    expect(screen.getByText('needs a value (only remove takes none)')).toBeTruthy()
    await rerender({ ...props, rows: [row({ name: 'Content-Length', value: '5' })] })
    expect(screen.getByText(/^cannot be edited: hop-by-hop headers/)).toBeTruthy()
  })

  it('reports each change as a new list of rows', async () => {
    const onchange = vi.fn()
    render(HeaderEditsEditor, {
      direction: 'request',
      rows: [row({ name: 'X-A', value: '1' })],
      attempted: false,
      onchange
    })
    await fireEvent.change(screen.getByLabelText('Request header edit 1: operation'), {
      target: { value: 'append' }
    })
    expect(onchange).toHaveBeenLastCalledWith([row({ op: 'append', name: 'X-A', value: '1' })])
    await fireEvent.click(screen.getByRole('button', { name: 'Remove request header edit 1' }))
    expect(onchange).toHaveBeenLastCalledWith([])
  })
})
