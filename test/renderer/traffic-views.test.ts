/**
 * What the traffic views say about header edits and upgraded connections: the request log counts a
 * request's rewritten headers, and Connections names a WebSocket/Upgrade tunnel as such.
 */
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ConnectionView, NamedRequestLogEntry } from '../../common/model.ts'
import Activity from '../../renderer/src/views/Activity.svelte'
import Connections from '../../renderer/src/views/Connections.svelte'

const api = vi.hoisted(() => ({
  getRequestLog: vi.fn<() => Promise<NamedRequestLogEntry[]>>(),
  topHosts: vi.fn(async () => []),
  listConnections: vi.fn<() => Promise<{ total: number; rows: ConnectionView[] }>>()
}))
vi.mock('../../renderer/src/lib/api.ts', () => ({ api }))

afterEach(() => {
  cleanup()
  vi.clearAllMocks()
})

const entry = (host: string, rewritten: number): NamedRequestLogEntry => ({
  at: 1_700_000_000_000,
  connectionId: rewritten,
  method: 'GET',
  host,
  port: 80,
  status: 200,
  error: null,
  profileId: 'work',
  ruleId: 'staging',
  route: 'direct',
  profileName: 'Work',
  ruleName: 'Staging',
  routeName: 'direct',
  up: 100,
  down: 200,
  durationMs: 12,
  rewritten
})

describe('Activity', () => {
  it('shows how many headers were rewritten, only where some were', async () => {
    api.getRequestLog.mockResolvedValue([entry('plain.test', 0), entry('one.test', 1), entry('two.test', 2)])
    render(Activity)
    const rows = await screen.findAllByTestId('log-row')
    expect(
      rows.map(
        (row) => within(row).queryByTestId('log-rewritten')?.textContent?.replace(/\s+/g, ' ').trim() ?? null
      )
    ).toEqual([null, 'rewritten: 1 header', 'rewritten: 2 headers'])
  })
})

describe('Connections', () => {
  const connection = (id: number, kind: ConnectionView['kind']): ConnectionView => ({
    id,
    client: '127.0.0.1:50000',
    target: `host${id}.test:80`,
    host: `host${id}.test`,
    kind,
    profileId: 'work',
    ruleId: null,
    route: 'direct',
    profileName: 'Work',
    ruleName: 'default',
    routeName: 'direct',
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
  })

  it('names each kind, a WebSocket/Upgrade tunnel included', async () => {
    api.listConnections.mockResolvedValue({
      total: 3,
      rows: [connection(1, 'http'), connection(2, 'connect'), connection(3, 'upgrade')]
    })
    render(Connections)
    const rows = await screen.findAllByTestId('connection-row')
    const kinds = rows.map((row) => row.querySelectorAll('td')[2]!)
    expect(kinds.map((cell) => cell.textContent)).toEqual(['HTTP', 'CONNECT', 'WebSocket/Upgrade'])
    expect(kinds[2]!.title).toMatch(/long-lived/)
  })

  it('shows the speed main measured, and sorts by a header with aria-sort, from the keyboard too', async () => {
    api.listConnections.mockResolvedValue({
      total: 1,
      rows: [{ ...connection(1, 'connect'), upRate: 1536, downRate: 2 * 1024 * 1024 }]
    })
    render(Connections)
    const [row] = await screen.findAllByTestId('connection-row')
    expect(within(row!).getByTestId('connection-up-rate').textContent).toBe('1.5 KiB/s')
    expect(within(row!).getByTestId('connection-down-rate').textContent).toBe('2.0 MiB/s')

    const header = (name: RegExp) => screen.getByRole('columnheader', { name })
    expect(header(/Down speed/).getAttribute('aria-sort')).toBeNull()
    await fireEvent.click(within(header(/Down speed/)).getByRole('button'))
    await vi.waitFor(() =>
      expect(api.listConnections).toHaveBeenLastCalledWith(
        expect.objectContaining({ sort: { key: 'downRate', direction: 'descending' } })
      )
    )
    expect(header(/Down speed/).getAttribute('aria-sort')).toBe('descending')
    // A second press flips the order; a text column starts from A.
    await fireEvent.click(within(header(/Down speed/)).getByRole('button'))
    expect(header(/Down speed/).getAttribute('aria-sort')).toBe('ascending')
    const client = within(header(/Client/)).getByRole('button')
    client.focus()
    expect(document.activeElement).toBe(client)
    await fireEvent.click(client)
    expect(header(/Client/).getAttribute('aria-sort')).toBe('ascending')
    expect(header(/Down speed/).getAttribute('aria-sort')).toBeNull()
    await vi.waitFor(() =>
      expect(api.listConnections).toHaveBeenLastCalledWith(
        expect.objectContaining({ sort: { key: 'client', direction: 'ascending' } })
      )
    )
  })
})
