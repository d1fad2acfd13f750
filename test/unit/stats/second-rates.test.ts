import { describe, expect, it } from 'vitest'
import { SecondRates } from '../../../main/stats/second-rates.ts'

describe('SecondRates', () => {
  it('keeps the newest points, oldest first, and answers from a time on', () => {
    const ring = new SecondRates(3)
    expect(ring.since(0)).toEqual([])
    for (let s = 1; s <= 5; s++) ring.push(s * 1000, s, 10 * s)
    expect(ring.since(0)).toEqual([
      { at: 3000, up: 3, down: 30 },
      { at: 4000, up: 4, down: 40 },
      { at: 5000, up: 5, down: 50 }
    ])
    expect(ring.since(4000).map((p) => p.at)).toEqual([4000, 5000])
  })
})
