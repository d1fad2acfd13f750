/**
 * The Settings view's timeouts and Via switch: limits come from the shared schema, an out-of-range
 * value is explained next to its field and never sent, and a valid change goes out through
 * updateSettings.
 */
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DEFAULT_SETTINGS, type Settings } from '../../common/model.ts'
import SettingsView from '../../renderer/src/views/Settings.svelte'

const api = vi.hoisted(() => ({
  getSettings: vi.fn<() => Promise<Settings>>(),
  updateSettings: vi.fn<(patch: Partial<Settings>) => Promise<Settings>>()
}))
// The desktop app's window: Settings also shows the desktop-only options.
vi.mock('../../renderer/src/lib/api.ts', () => ({ api, isDesktop: true }))

beforeEach(() => {
  api.getSettings.mockResolvedValue(structuredClone(DEFAULT_SETTINGS))
  api.updateSettings.mockImplementation(async (patch) => ({ ...DEFAULT_SETTINGS, ...patch }))
})
afterEach(() => {
  cleanup()
  vi.clearAllMocks()
})

describe('Settings: timeouts and Via', () => {
  it('takes each timeout’s limits from the schema and explains the Via switch', async () => {
    render(SettingsView)
    const connect = (await screen.findByLabelText('Connect')) as HTMLInputElement
    expect([connect.value, connect.min, connect.max]).toEqual(['15', '1', '600'])
    const idleTunnel = screen.getByLabelText('Idle tunnel') as HTMLInputElement
    expect([idleTunnel.value, idleTunnel.min, idleTunnel.max]).toEqual(['900', '10', '86400'])
    const via = screen.getByRole('switch', { name: 'Add Via header' }) as HTMLInputElement
    expect(via.checked).toBe(true)
    expect(document.getElementById(via.getAttribute('aria-describedby')!)?.textContent?.trim()).toBe(
      'Tells servers and clients that a proxy is in the path (RFC 9110); turn off for privacy.'
    )
  })

  it('shows an out-of-range timeout next to its field and does not save it', async () => {
    render(SettingsView)
    const idleClient = await screen.findByLabelText('Idle client connection')
    await fireEvent.input(idleClient, { target: { value: '2' } })
    expect((await screen.findByText('must be 5–3600 s')).id).toBe('timeout-idleClientSeconds-error')
    expect(idleClient.getAttribute('aria-invalid')).toBe('true')
    await fireEvent.click(screen.getByTestId('save-settings'))
    expect(screen.getByTestId('settings-error').textContent).toBe(
      'Idle client connection timeout must be 5–3600 s'
    )
    expect(api.updateSettings).not.toHaveBeenCalled()
  })

  it('saves changed timeouts and Via through updateSettings', async () => {
    render(SettingsView)
    await fireEvent.input(await screen.findByLabelText('Connect'), { target: { value: '30' } })
    await fireEvent.click(screen.getByRole('switch', { name: 'Add Via header' }))
    await fireEvent.click(screen.getByTestId('save-settings'))
    await waitFor(() => expect(api.updateSettings).toHaveBeenCalledTimes(1))
    expect(api.updateSettings.mock.calls[0]![0]).toMatchObject({
      timeouts: { ...DEFAULT_SETTINGS.timeouts, connectSeconds: 30 },
      via: false
    })
    expect(await screen.findByText('Saved')).toBeTruthy()
  })

  it('shows the desktop-only options in the desktop app', async () => {
    render(SettingsView)
    expect(await screen.findByLabelText('Start at login')).toBeTruthy()
    expect(screen.getByLabelText('Theme')).toBeTruthy()
  })
})
