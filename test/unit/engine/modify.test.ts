import { describe, expect, it } from 'vitest'
import { applyEdits, forwardHeaders } from '../../../main/engine/modify.ts'

describe('applyEdits', () => {
  it('applies set, append and remove in order, case-insensitively, counting edits that changed something', () => {
    const raw = ['Host', 'a.test', 'x-tag', 'one', 'Cookie', 'a=1', 'COOKIE', 'b=2', 'Accept', '*/*']
    const applied = applyEdits(raw, [
      { op: 'append', name: 'X-Tag', value: 'two' },
      { op: 'remove', name: 'cookie' },
      { op: 'set', name: 'Accept', value: 'text/html' },
      { op: 'remove', name: 'X-Absent' }
    ])
    expect(raw).toEqual(['Host', 'a.test', 'x-tag', 'one', 'X-Tag', 'two', 'Accept', 'text/html'])
    expect(applied).toBe(3)
  })

  it('set replaces every earlier value with one', () => {
    const raw = ['A', '1', 'a', '2']
    expect(applyEdits(raw, [{ op: 'set', name: 'a', value: '3' }])).toBe(1)
    expect(raw).toEqual(['a', '3'])
  })
})

describe('forwardHeaders', () => {
  it('strips hop-by-hop headers, then edits, then appends Via', () => {
    const raw = [
      'Connection',
      'close, X-Hop',
      'X-Hop',
      '1',
      'Keep-Alive',
      't=5',
      'X-Keep',
      'k',
      'Trailer',
      'X-Sum'
    ]
    const edits = [{ op: 'set' as const, name: 'X-New', value: 'n' }]
    const applied = forwardHeaders(raw, edits, '1.1 junction-abcdef', false)
    expect(raw).toEqual(['X-Keep', 'k', 'Trailer', 'X-Sum', 'X-New', 'n', 'Via', '1.1 junction-abcdef'])
    expect(applied).toBe(1)
  })

  it('keeps Upgrade and sends Connection: Upgrade for an upgrade', () => {
    const raw = ['Connection', 'keep-alive, Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k']
    forwardHeaders(raw, undefined, null, true)
    expect(raw).toEqual(['Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k', 'Connection', 'Upgrade'])
  })
})
