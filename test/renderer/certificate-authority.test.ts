/**
 * Settings → HTTPS interception: the CA's fingerprint and file are shown, the Chromium line carries
 * the real port and the CA's key hash, downloads hand over the exported bytes, and Regenerate does
 * nothing until confirmed (Escape or Cancel keep the CA).
 */
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { CertificateAuthorityInfo, FileExport } from '../../common/ipc-contract.ts'
import CertificateAuthorityPanel from '../../renderer/src/lib/components/CertificateAuthorityPanel.svelte'
import { engine } from '../../renderer/src/lib/state/engine.svelte.ts'
import { toasts } from '../../renderer/src/lib/state/toasts.svelte.ts'

const api = vi.hoisted(() => ({
  getCertificateAuthority: vi.fn<() => Promise<CertificateAuthorityInfo>>(),
  regenerateCertificateAuthority: vi.fn<() => Promise<CertificateAuthorityInfo>>(),
  exportCertificateAuthority: vi.fn<(format: 'pem' | 'der') => Promise<FileExport>>()
}))
vi.mock('../../renderer/src/lib/api.ts', () => ({ api }))

const CA: CertificateAuthorityInfo = {
  subject: 'CN=Junction Local CA (ada@lab)',
  fingerprintSha256: 'AB:CD:EF:01',
  spkiSha256Base64: 'c3BraS1oYXNo+/=',
  notAfter: '2036-11-29T04:34:27.000Z',
  pemPath: '/home/ada/.config/Junction/ca/junction-ca.pem',
  pem: '-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n',
  unavailable: null
}

beforeEach(() => {
  api.getCertificateAuthority.mockResolvedValue(CA)
  api.regenerateCertificateAuthority.mockResolvedValue({ ...CA, fingerprintSha256: '12:34:56:78' })
  engine.state = {
    status: 'running',
    host: '127.0.0.1',
    port: 8899,
    profileId: 'direct',
    profileName: 'Direct'
  }
})
afterEach(() => {
  cleanup()
  vi.clearAllMocks()
  vi.restoreAllMocks()
  engine.state = null
})

const dialog = () => document.querySelector('dialog')!

describe('HTTPS interception panel', () => {
  it('shows the CA and a Chromium command with the running port and the CA’s key hash', async () => {
    render(CertificateAuthorityPanel)
    expect((await screen.findByTestId('ca-fingerprint')).textContent).toBe('AB:CD:EF:01')
    expect(screen.getByTestId('ca-subject').textContent).toBe('CN=Junction Local CA (ada@lab)')
    expect(screen.getByTestId('ca-path').textContent).toBe(CA.pemPath)
    expect(screen.getByTestId('ca-not-after').querySelector('time')?.getAttribute('datetime')).toBe(
      CA.notAfter
    )
    expect(screen.getByTestId('chromium-command').textContent).toBe(
      'chromium --user-data-dir=$(mktemp -d) --proxy-server=http://127.0.0.1:8899 --ignore-certificate-errors-spki-list=c3BraS1oYXNo+/='
    )
    expect(screen.getByText(/Interception is off unless a rule asks for it/)).toBeTruthy()
  })

  it('copies the Chromium command with a toast; a refused clipboard is said next to the command', async () => {
    const writeText = vi.fn(async () => undefined)
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    render(CertificateAuthorityPanel)
    const command = (await screen.findByTestId('chromium-command')).textContent
    await fireEvent.click(screen.getByRole('button', { name: 'Copy command' }))
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(command))
    await waitFor(() =>
      expect(toasts.list.map((t) => t.message)).toContain('Command copied to the clipboard.')
    )

    writeText.mockRejectedValueOnce(new Error('denied'))
    await fireEvent.click(screen.getByRole('button', { name: 'Copy command' }))
    expect((await screen.findByRole('status')).textContent).toBe(
      'The clipboard refused: click the command to select it, then copy it.'
    )
  })

  it('asks to start the proxy instead of showing a command with a wrong port', async () => {
    engine.state = { status: 'stopped' }
    render(CertificateAuthorityPanel)
    await screen.findByTestId('ca-fingerprint')
    expect(screen.queryByTestId('chromium-command')).toBeNull()
    expect(screen.getByText('Start the proxy to see the command with its port.')).toBeTruthy()
  })

  it('regenerates only after confirmation, then shows the new fingerprint', async () => {
    render(CertificateAuthorityPanel)
    await fireEvent.click(await screen.findByRole('button', { name: 'Regenerate…' }))
    expect(dialog().open).toBe(true)
    expect(dialog().textContent).toContain('stops trusting intercepted sites until you install the new one')
    expect(api.regenerateCertificateAuthority).not.toHaveBeenCalled()
    await fireEvent.click(screen.getByRole('button', { name: 'Regenerate CA', hidden: true }))
    await waitFor(() => expect(screen.getByTestId('ca-fingerprint').textContent).toBe('12:34:56:78'))
    expect(api.regenerateCertificateAuthority).toHaveBeenCalledTimes(1)
    expect(dialog().open).toBe(false)
    expect(screen.getByRole('status').textContent).toContain('A new CA was created')
  })

  it('keeps the CA when the confirmation is dismissed with Escape or Cancel', async () => {
    render(CertificateAuthorityPanel)
    const open = await screen.findByRole('button', { name: 'Regenerate…' })
    await fireEvent.click(open)
    await fireEvent.keyDown(screen.getByRole('button', { name: 'Cancel', hidden: true }), { key: 'Escape' })
    expect(dialog().open).toBe(false)
    await fireEvent.click(open)
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel', hidden: true }))
    expect(dialog().open).toBe(false)
    expect(api.regenerateCertificateAuthority).not.toHaveBeenCalled()
    expect(screen.getByTestId('ca-fingerprint').textContent).toBe('AB:CD:EF:01')
  })

  it('downloads the exported bytes under the exported name', async () => {
    const der = Uint8Array.from([0x30, 0x82, 0x01, 0xff, 0x00])
    api.exportCertificateAuthority.mockResolvedValue({
      fileName: 'junction-ca.cer',
      base64: btoa(String.fromCharCode(...der))
    })
    const blobs: Blob[] = []
    vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      blobs.push(blob as Blob)
      return 'blob:test'
    })
    const names: string[] = []
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      names.push(this.download)
    })
    render(CertificateAuthorityPanel)
    await fireEvent.click(await screen.findByRole('button', { name: 'Download DER' }))
    await waitFor(() => expect(names).toEqual(['junction-ca.cer']))
    expect(api.exportCertificateAuthority).toHaveBeenCalledWith('der')
    expect(new Uint8Array(await blobs[0]!.arrayBuffer())).toEqual(der)
  })
})
