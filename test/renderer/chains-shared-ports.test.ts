/**
 * The chain field of an upstream (which upstream it is reached through, the chain shown, loops and
 * overlong chains flagged) and the shared-ports list (share, copy, stop) in a DOM, with the contract
 * mocked: the engine side is covered by test/integration/{chains,shared-ports}.test.ts.
 */
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { SharedPortInfo } from '../../common/ipc-contract.ts'
import type { Upstream } from '../../common/model.ts'
import SharedPorts from '../../renderer/src/lib/components/SharedPorts.svelte'
import UpstreamVia from '../../renderer/src/lib/components/UpstreamVia.svelte'

const api = vi.hoisted(() => ({
  listSharedPorts: vi.fn<() => Promise<SharedPortInfo[]>>(),
  shareUpstream: vi.fn<(profileId: string, upstreamId: string, port?: number) => Promise<SharedPortInfo>>(),
  stopSharedPort: vi.fn<(port: number) => Promise<void>>()
}))
vi.mock('../../renderer/src/lib/api.ts', () => ({ api }))

afterEach(() => cleanup())

const up = (id: string, via?: string): Upstream => ({
  id,
  name: id.toUpperCase(),
  scheme: 'http',
  host: '127.0.0.1',
  port: 3128,
  ...(via ? { via } : {})
})

describe('UpstreamVia', () => {
  it('offers the other upstreams and reports the choice', async () => {
    const onchange = vi.fn()
    const upstreams = [up('a'), up('b')]
    render(UpstreamVia, { upstream: upstreams[1]!, upstreams, onchange })
    const select = screen.getByLabelText(/Reach “B” through/) as HTMLSelectElement
    expect([...select.options].map((o) => o.textContent)).toEqual(['Nothing: connect to it directly', 'A'])
    await fireEvent.change(select, { target: { value: 'a' } })
    expect(onchange).toHaveBeenLastCalledWith({ ...upstreams[1], via: 'a' })
    await fireEvent.change(select, { target: { value: '' } })
    expect(onchange).toHaveBeenLastCalledWith(up('b'))
  })

  it('shows the chain, and flags a loop', () => {
    render(UpstreamVia, {
      upstream: up('c', 'b'),
      upstreams: [up('a'), up('b', 'a'), up('c', 'b')],
      onchange: vi.fn()
    })
    expect(screen.getByTestId('upstream-chain').textContent).toBe('Junction → A → B → C → target')
    cleanup()
    render(UpstreamVia, {
      upstream: up('a', 'b'),
      upstreams: [up('a', 'b'), up('b', 'a')],
      onchange: vi.fn()
    })
    expect(screen.getByTestId('upstream-chain').textContent).toMatch(/loops back/)
  })

  it('flags a chain longer than the engine allows', () => {
    const upstreams = [up('a'), up('b', 'a'), up('c', 'b'), up('d', 'c'), up('e', 'd')]
    render(UpstreamVia, { upstream: upstreams[4]!, upstreams, onchange: vi.fn() })
    expect(screen.getByTestId('upstream-chain').textContent).toMatch(/at most 4 upstreams/)
  })
})

describe('SharedPorts', () => {
  const info: SharedPortInfo = {
    host: '127.0.0.1',
    port: 41234,
    url: 'http://127.0.0.1:41234',
    profileId: 'p',
    upstreamId: 'b',
    upstreamName: 'B',
    scheme: 'http',
    since: 0
  }

  beforeEach(() => {
    api.listSharedPorts.mockReset().mockResolvedValue([])
    api.shareUpstream.mockReset().mockResolvedValue(info)
    api.stopSharedPort.mockReset().mockResolvedValue(undefined)
  })

  it('shares the chosen upstream on the port asked for, then lists it', async () => {
    render(SharedPorts, { profileId: 'p', upstreams: [up('a'), up('b')] })
    expect(await screen.findByText('No upstream is shared.')).toBeTruthy()
    await fireEvent.change(screen.getByLabelText('Upstream'), { target: { value: 'b' } })
    await fireEvent.input(screen.getByTestId('shared-port-input'), { target: { value: '41234' } })
    api.listSharedPorts.mockResolvedValue([info])
    await fireEvent.click(screen.getByTestId('share-upstream'))
    expect(api.shareUpstream).toHaveBeenCalledWith('p', 'b', 41234)
    expect(await screen.findByText('http://127.0.0.1:41234')).toBeTruthy()
    expect(screen.getByRole('status').textContent).toMatch(/“B” is shared at http:\/\/127\.0\.0\.1:41234/)
  })

  it('leaves the port out when none is given (JSON would turn undefined into null)', async () => {
    render(SharedPorts, { profileId: 'p', upstreams: [up('a')] })
    await fireEvent.click(screen.getByTestId('share-upstream'))
    expect(api.shareUpstream.mock.calls[0]).toEqual(['p', 'a'])
  })

  it('refuses a port out of range before asking', async () => {
    render(SharedPorts, { profileId: 'p', upstreams: [up('a')] })
    await fireEvent.input(screen.getByTestId('shared-port-input'), { target: { value: '70000' } })
    expect(await screen.findByText(/must be 1–65535/)).toBeTruthy()
    expect((screen.getByTestId('share-upstream') as HTMLButtonElement).disabled).toBe(true)
  })

  it('shows why sharing failed', async () => {
    api.shareUpstream.mockRejectedValue(new Error('Port 41234 is already shared'))
    render(SharedPorts, { profileId: 'p', upstreams: [up('a')] })
    await fireEvent.click(screen.getByTestId('share-upstream'))
    expect((await screen.findByRole('alert')).textContent).toBe('Port 41234 is already shared')
  })

  it('copies the address and stops a shared port', async () => {
    api.listSharedPorts.mockResolvedValue([info])
    const writeText = vi.fn(async () => undefined)
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    render(SharedPorts, { profileId: 'p', upstreams: [up('b')] })
    await fireEvent.click(await screen.findByRole('button', { name: 'Copy http://127.0.0.1:41234' }))
    expect(writeText).toHaveBeenCalledWith('http://127.0.0.1:41234')
    api.listSharedPorts.mockResolvedValue([])
    await fireEvent.click(screen.getByRole('button', { name: /Stop sharing B/ }))
    expect(api.stopSharedPort).toHaveBeenCalledWith(41234)
    expect(await screen.findByText('No upstream is shared.')).toBeTruthy()
  })
})
