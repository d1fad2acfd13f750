/**
 * What the UI claims about a link it may have lost: the Overview never shows a running engine or live
 * totals while Junction cannot be reached, the one "Cannot reach Junction" message is the banner's,
 * Settings shows a `--port` override as such, and the reconnection back-off is capped.
 */
import { cleanup, render, screen } from '@testing-library/svelte'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DEFAULT_SETTINGS, type Settings, type StatsSnapshot } from '../../common/model.ts'
import LinkBanner from '../../renderer/src/lib/components/LinkBanner.svelte'
import LinkIndicator from '../../renderer/src/lib/components/LinkIndicator.svelte'
import {
  isUnreachable,
  linkDriver,
  linkStatusAfter,
  retryDelay,
  UNREACHABLE
} from '../../renderer/src/lib/link.ts'
import { connection } from '../../renderer/src/lib/state/connection.svelte.ts'
import { engine } from '../../renderer/src/lib/state/engine.svelte.ts'
import { stats } from '../../renderer/src/lib/state/stats.svelte.ts'
import Overview from '../../renderer/src/views/Overview.svelte'
import SettingsView from '../../renderer/src/views/Settings.svelte'

const api = vi.hoisted(() => ({
  getSettings: vi.fn<() => Promise<Settings>>(),
  getRunOverrides: vi.fn<() => Promise<{ port: number | null }>>(),
  getCertificateAuthority: vi.fn(async () => {
    throw new Error('not in this test')
  }),
  setSystemProxy: vi.fn(),
  setActiveProfile: vi.fn(),
  trafficRates: vi.fn(async () => ({ from: 0, to: 300_000, step: 1000, points: [] })),
  trafficBreakdown: vi.fn(async () => []),
  onStats: vi.fn(() => () => undefined)
}))
vi.mock('../../renderer/src/lib/api.ts', () => ({ api, isDesktop: false }))

const RUNNING = {
  status: 'running',
  host: '127.0.0.1',
  port: 18600,
  profileId: 'direct',
  profileName: 'Direct'
} as const
const SNAPSHOT: StatsSnapshot = {
  at: Date.now(),
  upRate: 2048,
  downRate: 4096,
  totalUp: 10_240,
  totalDown: 20_480,
  openCount: 3,
  connections: [],
  connectionLimit: 0,
  recentlyClosed: [],
  topHosts: []
}
const CONNECTED = { status: 'connected', refused: false, retryAt: null } as const

beforeEach(() => {
  linkDriver.attach(() => undefined)
  connection.start()
  linkDriver.set(CONNECTED)
  engine.state = RUNNING
  stats.snapshot = SNAPSHOT
  stats.receivedAt = Date.now()
})
afterEach(() => {
  cleanup()
  vi.clearAllMocks()
})

describe('Overview while the link is up and when it drops', () => {
  it('shows the running engine and live totals while connected', () => {
    render(Overview)
    expect(screen.getByTestId('engine-status').textContent?.trim()).toBe(
      'Proxy listening on 127.0.0.1:18600 — profile “Direct”'
    )
    expect(screen.getByTestId('totals').dataset.live).toBe('true')
    expect(screen.getByTestId('open-count').textContent?.trim()).toBe('3')
  })

  it('claims nothing about the engine and marks totals as old once the link drops', async () => {
    render(Overview)
    render(LinkBanner)
    render(LinkIndicator)
    linkDriver.set({ status: 'reconnecting', refused: false, retryAt: Date.now() + 2000 })
    await vi.waitFor(() =>
      expect(screen.getByTestId('engine-status').textContent?.trim()).toBe(
        'Unknown — Junction cannot be reached'
      )
    )
    expect(screen.getByTestId('totals').dataset.live).toBe('false')
    expect(screen.getByTestId('totals').textContent).toMatch(/as of \d\d:\d\d:\d\d, not live/)
    expect(screen.getByTestId('rates').textContent).toContain('not live')
    expect(screen.getByTestId('open-count').textContent).toContain('not live')
    expect(screen.getByTestId('link-status').dataset.status).toBe('reconnecting')
    expect(screen.getAllByText(/Cannot reach Junction/)).toHaveLength(1)
    expect(screen.getByTestId('link-banner').textContent).toMatch(/Trying again in [12] s/)
  })

  it('says the proxy stopped when that was the last thing Junction reported', async () => {
    engine.state = { status: 'stopped' }
    linkDriver.set({ status: 'lost', refused: false, retryAt: Date.now() + 5000 })
    render(Overview)
    expect(screen.getByTestId('engine-status').textContent?.trim()).toBe(
      'Proxy stopped — Junction is not running'
    )
  })

  it('marks totals as not live when snapshots stop coming, even with the link up', () => {
    stats.receivedAt = Date.now() - 10_000
    render(Overview)
    expect(screen.getByTestId('totals').dataset.live).toBe('false')
  })

  it('a refused page says how to get back in, and does not offer a retry', () => {
    linkDriver.set({ status: 'lost', refused: true, retryAt: null })
    render(LinkBanner)
    render(LinkIndicator)
    expect(screen.getByTestId('link-banner').textContent).toContain('no longer has access')
    expect(screen.queryByRole('button', { name: 'Retry now' })).toBeNull()
    expect(screen.getByTestId('link-status').textContent).toContain('Access refused')
  })
})

describe('Settings: the port in use', () => {
  it('shows a --port override next to the saved port', async () => {
    api.getSettings.mockResolvedValue(structuredClone(DEFAULT_SETTINGS))
    api.getRunOverrides.mockResolvedValue({ port: 18600 })
    render(SettingsView)
    expect((await screen.findByTestId('port-in-use')).textContent).toBe(
      'In use: 18600 (set by --port for this run; saved: 8899)'
    )
    expect((screen.getByTestId('port') as HTMLInputElement).value).toBe('8899')
  })

  it('shows nothing extra when the saved port is the one in use', async () => {
    api.getSettings.mockResolvedValue({ ...structuredClone(DEFAULT_SETTINGS), port: 18600 })
    api.getRunOverrides.mockResolvedValue({ port: null })
    render(SettingsView)
    await screen.findByTestId('port')
    await vi.waitFor(() => expect(api.getRunOverrides).toHaveBeenCalled())
    expect(screen.queryByTestId('port-in-use')).toBeNull()
  })
})

describe('the link', () => {
  it('retries after 0.5 s, doubling up to 5 s, and counts as lost after 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 20].map(retryDelay)).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000])
    expect([0, 29_999, 30_000].map(linkStatusAfter)).toEqual(['reconnecting', 'reconnecting', 'lost'])
  })

  it('tells a call that failed because the link is down from other failures', () => {
    const down = Object.assign(new Error(UNREACHABLE), { code: 'io-error' })
    expect(isUnreachable(down)).toBe(true)
    expect(isUnreachable(Object.assign(new Error('disk full'), { code: 'io-error' }))).toBe(false)
    expect(isUnreachable(new Error(UNREACHABLE))).toBe(false)
  })
})
