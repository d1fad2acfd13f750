/**
 * What the traffic views say about header edits and upgraded connections: the request log counts a
 * request's rewritten headers, and Connections names a WebSocket/Upgrade tunnel as such.
 */
import { cleanup, render, screen, within } from '@testing-library/svelte'
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
    const kinds = rows.map((row) => row.querySelectorAll('td')[1]!)
    expect(kinds.map((cell) => cell.textContent)).toEqual(['HTTP', 'CONNECT', 'WebSocket/Upgrade'])
    expect(kinds[2]!.title).toMatch(/long-lived/)
  })
})
