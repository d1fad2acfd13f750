/**
 * The Inspect view: it switches recording on the first time it is shown (and only then), lists
 * exchanges with intercepted ones marked, passes its filters to main, opens a detail from the keyboard
 * and closes it with Escape, copies a curl command (or shows it selected when the clipboard refuses),
 * and reloads when main says the exchanges changed.
 */
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ExchangeDetail, InspectState, NamedExchangeRow } from '../../common/ipc-contract.ts'
import Inspect from '../../renderer/src/views/Inspect.svelte'
import { toasts } from '../../renderer/src/lib/state/toasts.svelte.ts'

const api = vi.hoisted(() => {
  const listeners: ((state: unknown) => void)[] = []
  return {
    listeners,
    onExchanges: vi.fn((listener: (state: unknown) => void) => {
      listeners.push(listener)
      return () => undefined
    }),
    setInspectRecording: vi.fn(async (on: boolean) => ({ recording: on, count: 2, bytes: 2048 })),
    inspectState: vi.fn(async () => ({ recording: false, count: 2, bytes: 2048 })),
    clearExchanges: vi.fn(async () => ({ recording: true, count: 0, bytes: 0 })),
    listExchanges: vi.fn<() => Promise<{ total: number; rows: NamedExchangeRow[] }>>(),
    exchangeDetail: vi.fn<(id: number) => Promise<ExchangeDetail>>(),
    exchangeAsCurl: vi.fn(async () => "curl \\\n  'http://api.test/users?id=1'")
  }
})
vi.mock('../../renderer/src/lib/api.ts', () => ({ api }))

afterEach(() => {
  cleanup()
  vi.clearAllMocks()
})

const row = (id: number, overrides: Partial<NamedExchangeRow> = {}): NamedExchangeRow => ({
  id,
  at: 1_700_000_000_000,
  method: 'GET',
  url: `http://api.test/users?id=${id}`,
  host: 'api.test',
  status: 200,
  durationMs: 12,
  requestBytes: 0,
  responseBytes: 2048,
  profileId: 'work',
  ruleId: 'api',
  route: 'direct',
  profileName: 'Work',
  ruleName: 'API calls',
  routeName: 'direct',
  intercepted: false,
  error: null,
  ...overrides
})

const body = (overrides: Partial<ExchangeDetail['responseBody']> = {}): ExchangeDetail['responseBody'] => ({
  kind: 'empty',
  text: '',
  contentType: null,
  decodedFrom: null,
  totalBytes: 0,
  previewBytes: 0,
  truncated: false,
  note: null,
  ...overrides
})

const detail = (id: number): ExchangeDetail => ({
  ...row(id),
  requestHeaders: [{ name: 'Accept', value: 'application/json' }],
  responseHeaders: [{ name: 'Content-Encoding', value: 'gzip' }],
  requestBody: body(),
  responseBody: body({
    kind: 'json',
    text: '{\n  "id": 1\n}',
    contentType: 'application/json',
    decodedFrom: 'gzip',
    totalBytes: 30,
    previewBytes: 30
  })
})

describe('Inspect', () => {
  it('switches recording on the first time it is shown, and later keeps what the user chose', async () => {
    api.listExchanges.mockResolvedValue({ total: 0, rows: [] })
    render(Inspect)
    expect(await screen.findByRole('button', { name: 'Pause' })).toBeTruthy()
    expect(api.setInspectRecording).toHaveBeenCalledWith(true)
    await fireEvent.click(screen.getByRole('button', { name: 'Pause' }))
    expect(api.setInspectRecording).toHaveBeenLastCalledWith(false)
    expect(await screen.findByRole('button', { name: 'Resume' })).toBeTruthy()
    cleanup()

    api.setInspectRecording.mockClear()
    render(Inspect)
    expect(await screen.findByRole('button', { name: 'Resume' })).toBeTruthy()
    expect(api.inspectState).toHaveBeenCalled()
    expect(api.setInspectRecording).not.toHaveBeenCalled()
  })

  it('asks before clearing what was recorded; Cancel clears nothing', async () => {
    api.listExchanges.mockResolvedValue({ total: 2, rows: [row(2), row(1)] })
    render(Inspect)
    const clear = await screen.findByRole('button', { name: 'Clear…' })
    await waitFor(() => expect((clear as HTMLButtonElement).disabled).toBe(false))
    await fireEvent.click(clear)
    const dialog = screen.getByTestId('confirm') as HTMLDialogElement
    expect(dialog.open).toBe(true)
    expect(dialog.textContent).toContain('Clear 2 recorded exchanges?')
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }))
    expect(api.clearExchanges).not.toHaveBeenCalled()
    await fireEvent.click(clear)
    await fireEvent.click(screen.getByTestId('confirm-action'))
    await waitFor(() => expect(api.clearExchanges).toHaveBeenCalledTimes(1))
  })

  it('lists exchanges with intercepted ones marked, and passes the filters to main', async () => {
    api.listExchanges.mockResolvedValue({
      total: 2,
      rows: [
        row(2, { intercepted: true, url: 'https://secure.test/', status: 502, error: 'target-refused' }),
        row(1)
      ]
    })
    render(Inspect)
    const rows = await screen.findAllByTestId('exchange-row')
    expect(rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent!.trim()))).toEqual([
      [
        'GET',
        '🔒intercepted HTTPS, https://secure.test/',
        '502 (target-refused)',
        '2.0 KiB',
        '12 ms',
        'API calls → direct'
      ],
      ['GET', 'http://api.test/users?id=1', '200', '2.0 KiB', '12 ms', 'API calls → direct']
    ])
    await fireEvent.input(screen.getByLabelText('Host'), { target: { value: 'api' } })
    await fireEvent.input(screen.getByLabelText('Status'), { target: { value: '5xx' } })
    await fireEvent.input(screen.getByLabelText('Method'), { target: { value: 'get' } })
    await waitFor(() =>
      expect(api.listExchanges).toHaveBeenLastCalledWith(
        expect.objectContaining({ filter: { host: 'api', status: '5xx', method: 'get' } })
      )
    )
    // An unfinished status pattern is not sent: main would refuse it.
    const calls = api.listExchanges.mock.calls.length
    await fireEvent.input(screen.getByLabelText('Status'), { target: { value: '5y' } })
    expect(screen.getByLabelText('Status').getAttribute('aria-invalid')).toBe('true')
    expect(api.listExchanges.mock.calls.length).toBe(calls)
  })

  it('opens the detail with Enter, shows headers and the rendered body, and closes it with Escape', async () => {
    api.listExchanges.mockResolvedValue({ total: 1, rows: [row(1)] })
    api.exchangeDetail.mockResolvedValue(detail(1))
    render(Inspect)
    const first = (await screen.findAllByTestId('exchange-row'))[0]!
    first.focus()
    await fireEvent.keyDown(first, { key: 'Enter' })
    const pane = await screen.findByTestId('exchange-detail')
    await waitFor(() => expect(within(pane).getByTestId('response-body').textContent).toBe('{\n  "id": 1\n}'))
    expect(api.exchangeDetail).toHaveBeenCalledWith(1)
    expect(within(pane).getByRole('table', { name: 'Request headers' }).textContent).toContain(
      'Acceptapplication/json'
    )
    expect(pane.textContent).toContain('JSON, 30 B, decoded from gzip')
    expect(document.activeElement?.id).toBe('detail-title')
    await fireEvent.keyDown(window, { key: 'Escape' })
    await waitFor(() => expect(screen.queryByTestId('exchange-detail')).toBeNull())
    expect(document.activeElement).toBe(screen.getAllByTestId('exchange-row')[0])
  })

  it('copies a curl command, and shows it selected when the clipboard refuses', async () => {
    api.listExchanges.mockResolvedValue({ total: 1, rows: [row(1)] })
    api.exchangeDetail.mockResolvedValue(detail(1))
    const writeText = vi.fn(async () => undefined)
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    render(Inspect)
    await fireEvent.click((await screen.findAllByTestId('exchange-row'))[0]!)
    const copy = await screen.findByRole('button', { name: 'Copy as curl' })
    await waitFor(() => expect(copy.hasAttribute('disabled')).toBe(false))
    await fireEvent.click(copy)
    await waitFor(() => expect(writeText).toHaveBeenCalledWith("curl \\\n  'http://api.test/users?id=1'"))
    await waitFor(() => expect(toasts.list.map((t) => t.message)).toContain('Copied to the clipboard.'))

    writeText.mockRejectedValueOnce(new Error('denied'))
    await fireEvent.click(copy)
    const box = (await screen.findByRole('textbox', {
      name: /copy the selected command/
    })) as HTMLTextAreaElement
    expect(box.value).toBe("curl \\\n  'http://api.test/users?id=1'")
    expect([box.selectionStart, box.selectionEnd]).toEqual([0, box.value.length])
  })

  it('reloads the list when main says the exchanges changed', async () => {
    api.listExchanges.mockResolvedValue({ total: 1, rows: [row(1)] })
    render(Inspect)
    await screen.findAllByTestId('exchange-row')
    api.listExchanges.mockResolvedValue({ total: 2, rows: [row(2), row(1)] })
    for (const listener of api.listeners)
      listener({ recording: true, count: 2, bytes: 4096 } satisfies InspectState)
    await waitFor(() => expect(screen.getAllByTestId('exchange-row')).toHaveLength(2))
    expect(screen.getByTestId('exchange-count').textContent).toContain('(4.0 KiB of bodies)')
  })
})
