/**
 * The Overview's traffic section with the contract mocked: the peak is computed from the points shown
 * (none claimed without traffic), the range buttons ask main for that range, and the shares list
 * hosts and profiles by name.
 */
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { TrafficRates } from '../../common/ipc-contract.ts'
import Overview from '../../renderer/src/views/Overview.svelte'

const api = vi.hoisted(() => ({
  trafficRates: vi.fn<(query: { range: string }) => Promise<TrafficRates>>(),
  trafficBreakdown: vi.fn(async ({ kind }: { kind: string }) =>
    kind === 'host'
      ? [{ name: 'example.test', up: 10, down: 3 * 1024 * 1024 }]
      : [{ name: 'Work', up: 10, down: 2048 }]
  ),
  onStats: vi.fn(() => () => undefined),
  setSystemProxy: vi.fn(),
  setActiveProfile: vi.fn()
}))
vi.mock('../../renderer/src/lib/api.ts', () => ({ api }))

afterEach(() => {
  cleanup()
  vi.clearAllMocks()
})

const T = 1_700_000_000_000
const series = (step: number, rates: [number, number][]): TrafficRates => ({
  from: T - rates.length * step,
  to: T,
  step,
  points: rates.map(([up, down], i) => ({ at: T - (rates.length - i) * step, up, down }))
})

describe('Overview traffic', () => {
  it('claims no peak when the range carried nothing', async () => {
    api.trafficRates.mockResolvedValue(
      series(1000, [
        [0, 0],
        [0, 0],
        [0, 0]
      ])
    )
    render(Overview)
    expect((await screen.findByTestId('traffic-peak')).textContent).toMatch(
      /^\s*No traffic in the last 5 minutes\s+· per second/
    )
  })

  it('takes the peak from the points shown and asks for the range chosen', async () => {
    api.trafficRates.mockResolvedValue(
      series(1000, [
        [512, 1024],
        [100, 3 * 1024 * 1024],
        [0, 0]
      ])
    )
    render(Overview)
    await vi.waitFor(() =>
      expect(screen.getByTestId('traffic-peak').textContent).toMatch(/Peak ↓ 3\.0 MiB\/s · ↑ 512 B\/s/)
    )
    expect(screen.getByTestId('traffic-chart').dataset.points).toBe('3')
    expect(screen.getByTestId('top-hosts').textContent).toContain('example.test')
    expect(screen.getByTestId('by-profile').textContent).toContain('Work')

    api.trafficRates.mockResolvedValue(series(60_000, [[60, 120]]))
    await fireEvent.click(screen.getByRole('button', { name: '1 h' }))
    await vi.waitFor(() => expect(api.trafficRates).toHaveBeenLastCalledWith({ range: '1h' }))
    await vi.waitFor(() =>
      expect(screen.getByTestId('traffic-peak').textContent).toMatch(
        /Peak ↓ 120 B\/s · ↑ 60 B\/s\s+· per minute/
      )
    )
    expect(screen.getByRole('button', { name: '1 h' }).getAttribute('aria-pressed')).toBe('true')
    expect(screen.getByRole('heading', { name: 'Traffic, last hour' })).toBeTruthy()
  })
})
