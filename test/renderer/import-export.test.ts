/**
 * The Profiles view's import panel: pasted text is previewed (profiles, what is not imported) and
 * saved only on Import; export buttons apply to the selected profile.
 */
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ImportPreview, ImportSummary } from '../../common/ipc-contract.ts'
import { DIRECT_PROFILE, type Profile } from '../../common/model.ts'
import ImportExport from '../../renderer/src/lib/components/ImportExport.svelte'
import { toasts } from '../../renderer/src/lib/state/toasts.svelte.ts'

const SUMMARY: ImportSummary = {
  format: 'clash',
  profiles: [{ id: 'clash-1', name: 'Clash', upstreams: 2, groups: 4, rules: 8 }],
  skipped: [{ what: 'proxies of type vmess', count: 2, examples: ['jp-vmess', 'us-vmess'] }],
  notes: ['2 IP-CIDR rules match only requests addressed to an IP']
}
const PROFILE: Profile = {
  id: 'clash-1',
  name: 'Clash',
  upstreams: [],
  rules: [],
  defaultAction: { type: 'direct' }
}

const api = vi.hoisted(() => ({
  previewImport: vi.fn<(text: string, fileName?: string) => Promise<ImportPreview>>(),
  importProfiles: vi.fn<(text: string, fileName?: string) => Promise<ImportSummary>>(),
  listProfiles: vi.fn<() => Promise<Profile[]>>(),
  exportProfile: vi.fn<(id: string, format: 'pac' | 'squid') => Promise<string>>(),
  exportBackup: vi.fn<(options: { includePasswords: boolean }) => Promise<string>>()
}))
vi.mock('../../renderer/src/lib/api.ts', () => ({ api }))

beforeEach(() => {
  api.previewImport.mockResolvedValue({ format: 'clash', profiles: [PROFILE], summary: SUMMARY })
  api.importProfiles.mockResolvedValue(SUMMARY)
  api.listProfiles.mockResolvedValue([DIRECT_PROFILE, PROFILE])
  api.exportBackup.mockResolvedValue('{}')
  URL.createObjectURL = vi.fn(() => 'blob:test')
  URL.revokeObjectURL = vi.fn()
})
afterEach(() => {
  cleanup()
  vi.clearAllMocks()
})

describe('Import and export panel', () => {
  it('previews pasted text with what is not imported, and saves only on Import', async () => {
    render(ImportExport, { profileId: null })
    await fireEvent.input(screen.getByTestId('import-text'), { target: { value: 'proxies: []' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Preview' }))
    const preview = await screen.findByTestId('import-preview')
    expect(preview.textContent).toContain('Clash / mihomo configuration: 1 profile to add.')
    expect(screen.getByTestId('import-skipped').textContent).toMatch(
      /2 × proxies of type vmess\s*— e\.g\. jp-vmess \| us-vmess/
    )
    expect(preview.textContent).toContain('IP-CIDR rules match only')
    expect(api.importProfiles).not.toHaveBeenCalled()

    await fireEvent.click(screen.getByRole('button', { name: 'Import 1 profile' }))
    await waitFor(() => expect(api.importProfiles).toHaveBeenCalledWith('proxies: []', undefined))
    await waitFor(() => expect(toasts.list.map((t) => t.message)).toContain('Imported “Clash”.'))
    expect(api.listProfiles).toHaveBeenCalled()
    expect(screen.queryByTestId('import-preview')).toBeNull()
  })

  it('shows why a text cannot be imported', async () => {
    api.previewImport.mockRejectedValue(new Error('The text is not a format Junction can import.'))
    render(ImportExport, { profileId: null })
    await fireEvent.input(screen.getByTestId('import-text'), { target: { value: 'words' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Preview' }))
    expect((await screen.findByRole('alert')).textContent).toBe(
      'The text is not a format Junction can import.'
    )
  })

  it('exports the selected profile only, and asks for passwords in the backup only when ticked', async () => {
    render(ImportExport, { profileId: DIRECT_PROFILE.id })
    expect((screen.getByRole('button', { name: 'Export as PAC' }) as HTMLButtonElement).disabled).toBe(true)
    await fireEvent.click(screen.getByRole('checkbox', { name: 'Include passwords in the backup' }))
    await fireEvent.click(screen.getByRole('button', { name: 'Download backup' }))
    await waitFor(() => expect(api.exportBackup).toHaveBeenCalledWith({ includePasswords: true }))
  })
})
