/**
 * Form components in a DOM: validation messages appear where the user types, and nothing invalid
 * is passed on.
 */
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { SECRET_PLACEHOLDER } from '../../common/ipc-contract.ts'
import type { Matcher, Upstream } from '../../common/model.ts'
import { checkMatcher } from '../../renderer/src/lib/components/form-checks.ts'
import MatcherEditor from '../../renderer/src/lib/components/MatcherEditor.svelte'
import UpstreamEditor from '../../renderer/src/lib/components/UpstreamEditor.svelte'

afterEach(() => cleanup())

describe('MatcherEditor', () => {
  it('labels its fields and reports changes', async () => {
    const onchange = vi.fn()
    render(MatcherEditor, { matcher: { type: 'domain', value: '' } as Matcher, onchange })
    const value = screen.getByTestId('matcher-value')
    await fireEvent.input(value, { target: { value: 'example.com' } })
    expect(onchange).toHaveBeenLastCalledWith({ type: 'domain', value: 'example.com' })
    expect(screen.getByTestId('matcher-type').closest('label')?.textContent).toMatch(/\S/)
  })

  it('checks values the way the engine will, and shows the message next to the field', async () => {
    const regex = { type: 'regex', value: '(unclosed' } as Matcher
    const message = checkMatcher(regex)
    expect(message).toMatch(/^not a usable regular expression \(missing closing \): `\(unclosed`\)/)
    expect(checkMatcher({ type: 'port', value: '90-80' })).toMatch(/range/)
    expect(checkMatcher({ type: 'ip', value: '10.0.0.0/8' })).toBeNull()
    expect(checkMatcher({ type: 'domain', value: 'example.com' })).toBeNull()
    render(MatcherEditor, { matcher: regex, error: message!, onchange: vi.fn() })
    const shown = await screen.findByText(message!)
    expect(screen.getByTestId('matcher-value').getAttribute('aria-invalid')).toBe('true')
    expect(shown).toBeTruthy()
  })
})

describe('UpstreamEditor', () => {
  const upstream: Upstream = {
    id: 'u1',
    name: 'Corp',
    scheme: 'http',
    host: 'proxy.corp.test',
    port: 3128,
    username: 'me',
    password: SECRET_PLACEHOLDER
  }

  it('never shows a saved password and keeps it unless a new one is typed', async () => {
    const onchange = vi.fn()
    render(UpstreamEditor, { upstream, onchange, onremove: vi.fn() })
    const password = screen.getByLabelText('Password', { exact: true }) as HTMLInputElement
    expect(password.value).toBe('')
    expect(password.type).toBe('password')
    await fireEvent.input(password, { target: { value: 'new secret' } })
    expect(onchange).toHaveBeenLastCalledWith(expect.objectContaining({ password: 'new secret' }))
  })

  it('flags a host with a scheme or path', async () => {
    const onchange = vi.fn()
    render(UpstreamEditor, { upstream: { ...upstream, host: 'http://proxy/' }, onchange, onremove: vi.fn() })
    const host = screen.getByLabelText('Host', { exact: true })
    await fireEvent.blur(host)
    expect(await screen.findByText(/host name or IP address/)).toBeTruthy()
  })
})
