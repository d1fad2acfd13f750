/**
 * Connections and Activity show profile, rule and upstream names (never ids), and their filters send
 * what the user typed to Junction, which searches what these views show (unit/stats/display-names).
 */
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ConnectionView, NamedRequestLogEntry, StatsSnapshot } from '../../common/model.ts'
import { stats } from '../../renderer/src/lib/state/stats.svelte.ts'
import Activity from '../../renderer/src/views/Activity.svelte'
import Connections from '../../renderer/src/views/Connections.svelte'

const api = vi.hoisted(() => ({
  getRequestLog: vi.fn<(query: { limit: number; filter?: string }) => Promise<NamedRequestLogEntry[]>>(),
  topHosts: vi.fn(async () => []),
  listConnections: vi.fn<
    (query: { offset: number; limit: number; filter?: string }) => Promise<{
      total: number
      rows: ConnectionView[]
    }>
  >()
}))
vi.mock('../../renderer/src/lib/api.ts', () => ({ api }))

afterEach(() => {
  cleanup()
  vi.clearAllMocks()
  stats.snapshot = null
})

const IDS = /\b[pru]-[0-9a-f]{8}\b/

const logEntry: NamedRequestLogEntry = {
  at: 1_700_000_000_000,
  connectionId: 7,
  method: 'CONNECT',
  host: '::1',
  port: 18701,
  status: 200,
  error: null,
  profileId: 'p-ace47aae',
  ruleId: 'r-67f52b34',
  route: 'u-8fef2893',
  profileName: 'Work',
  ruleName: 'domain example.com and subdomains → Squid',
  routeName: 'Squid',
  up: 100,
  down: 200,
  durationMs: 12,
  rewritten: 0
}

const connection: ConnectionView = {
  id: 7,
  client: '127.0.0.1:50000',
  target: '127.0.0.1:18701',
  host: '127.0.0.1',
  kind: 'connect',
  profileId: 'p-ace47aae',
  ruleId: 'r-67f52b34',
  route: 'u-8fef2893',
  profileName: 'Work',
  ruleName: 'Origin via Squid',
  routeName: 'Squid',
  startedAt: 0,
  lastActivityAt: 0,
  up: 0,
  down: 0,
  upRate: 0,
  downRate: 0,
  requests: 1,
  state: 'open',
  closedAt: null,
  closeReason: null
}

describe('Activity', () => {
  it('shows names, host:port and status, and sends the filter as typed', async () => {
    api.getRequestLog.mockResolvedValue([logEntry])
    render(Activity)
    const [row] = await screen.findAllByTestId('log-row')
    const cells = [...row!.querySelectorAll('td')].map((td) => td.textContent!.trim())
    expect(cells.slice(1, 7)).toEqual([
      'CONNECT',
      '[::1]:18701',
      '200',
      'Work',
      'domain example.com and subdomains → Squid',
      'Squid'
    ])
    expect(row!.textContent).not.toMatch(IDS)

    api.getRequestLog.mockResolvedValue([])
    await fireEvent.input(screen.getByRole('searchbox'), { target: { value: ' 127.0.0.1:18701 ' } })
    await vi.waitFor(() =>
      expect(api.getRequestLog).toHaveBeenLastCalledWith({ limit: 500, filter: '127.0.0.1:18701' })
    )
    // Nothing matching is not the same as nothing logged.
    expect(await screen.findByText('No request matches')).toBeTruthy()
  })
})

describe('Connections', () => {
  it('shows names for open and recently closed connections, and filters by what is shown', async () => {
    api.listConnections.mockResolvedValue({ total: 1, rows: [connection] })
    stats.snapshot = {
      at: 1000,
      recentlyClosed: [{ ...connection, id: 8, state: 'closed', closedAt: 900, closeReason: 'closed' }]
    } as StatsSnapshot
    render(Connections)
    const [row] = await screen.findAllByTestId('connection-row')
    const cells = [...row!.querySelectorAll('td')].map((td) => td.textContent!.trim())
    expect(cells.slice(0, 6)).toEqual([
      '127.0.0.1:18701',
      '127.0.0.1:50000',
      'CONNECT',
      'Work',
      'Origin via Squid',
      'Squid'
    ])
    const closed = screen.getByTestId('closed-row')
    expect(within(closed).getByText('Squid')).toBeTruthy()
    expect(screen.getByRole('region', { name: 'Connections' }).textContent).not.toMatch(IDS)

    api.listConnections.mockResolvedValue({ total: 0, rows: [] })
    await fireEvent.input(screen.getByRole('searchbox'), { target: { value: 'Squid' } })
    await vi.waitFor(() =>
      expect(api.listConnections).toHaveBeenLastCalledWith(expect.objectContaining({ filter: 'Squid' }))
    )
    expect(await screen.findByText('No open connection matches')).toBeTruthy()
  })
})
