import { describe, expect, it } from 'vitest'
import { stripHopByHop } from '../../../main/engine/hop-by-hop.ts'

describe('stripHopByHop', () => {
  it('removes the fixed hop-by-hop list, Proxy-Connection and headers named in Connection', () => {
    const raw = [
      'Host',
      'a.test',
      'Proxy-Connection',
      'keep-alive',
      'Proxy-Authorization',
      'Basic eDp5',
      'Connection',
      'keep-alive, X-Session-Hint',
      'x-session-hint',
      'secret',
      'Keep-Alive',
      'timeout=5',
      'TE',
      'trailers',
      'Upgrade',
      'h2c',
      'Accept',
      '*/*',
      'X-Other',
      '1'
    ]
    stripHopByHop(raw)
    expect(raw).toEqual(['Host', 'a.test', 'Accept', '*/*', 'X-Other', '1'])
  })

  it('leaves end-to-end headers alone', () => {
    const raw = ['Host', 'a.test', 'Cookie', 'a=1', 'Authorization', 'Bearer t']
    stripHopByHop(raw)
    expect(raw).toEqual(['Host', 'a.test', 'Cookie', 'a=1', 'Authorization', 'Bearer t'])
  })
})
