import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { RequestLogEntry } from '../../../common/model.ts'
import { RequestLogFile, RequestRing } from '../../../main/stats/request-log.ts'

const entry = (i: number, host = `h${i}.test`): RequestLogEntry => ({
  at: i,
  connectionId: i,
  method: 'GET',
  host,
  port: 80,
  status: 200,
  error: null,
  profileId: 'p',
  ruleId: null,
  route: 'direct',
  up: 10,
  down: 20,
  durationMs: 1,
  rewritten: i % 3
})

describe('RequestRing', () => {
  it('keeps the newest entries up to its capacity, newest first', () => {
    const ring = new RequestRing(3)
    for (let i = 1; i <= 5; i++) ring.push(entry(i))
    expect(ring.size).toBe(3)
    expect(ring.list().map((e) => e.at)).toEqual([5, 4, 3])
    expect(ring.list(2).map((e) => e.at)).toEqual([5, 4])
    expect(ring.list(10, (e) => e.at % 2 === 1).map((e) => e.at)).toEqual([5, 3])
    // Stored by field, read back as the same entries.
    const failed = { ...entry(6), error: 'upstream-refused', ruleId: 'r1', route: 'corp' }
    ring.push(failed)
    expect(ring.list(1)).toEqual([failed])
    expect(ring.list().reverse()).toEqual([entry(4), entry(5), failed])
    ring.clear()
    expect([ring.size, ring.list()]).toEqual([0, []])
  })
})

describe('RequestLogFile', () => {
  it('writes JSON lines, rotates by size and never writes a password', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-log-'))
    try {
      const file = new RequestLogFile({ dir, maxBytes: 1000, keep: 2 })
      await file.open()
      for (let i = 0; i < 20; i++) file.write(entry(i, i === 19 ? 'http://user:secret@x.test' : `h${i}.test`))
      await file.close()
      const names = (await fs.readdir(dir)).sort()
      expect(names).toEqual(['requests.log', 'requests.log.1', 'requests.log.2'])
      for (const name of names) expect((await fs.stat(path.join(dir, name))).size).toBeLessThanOrEqual(1000)
      const last = (await fs.readFile(path.join(dir, 'requests.log'), 'utf8')).trim().split('\n')
      const parsed = last.map((l) => JSON.parse(l) as RequestLogEntry)
      expect(parsed.at(-1)!.host).toBe('http://user:***@x.test')
      expect(parsed.at(-1)!.at).toBe(19)
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  it('writes a batch in one piece with every credential redacted', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-log-'))
    try {
      const file = new RequestLogFile({ dir })
      await file.open()
      file.write(entry(1, 'http://a:one@x.test'))
      file.write(entry(2))
      file.write({ ...entry(3), error: 'socks5://b:two@y.test refused' })
      await file.close()
      const text = await fs.readFile(path.join(dir, 'requests.log'), 'utf8')
      expect(text).not.toMatch(/one|two/)
      expect(
        text
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as RequestLogEntry).at)
      ).toEqual([1, 2, 3])
      expect(text).toContain('socks5://b:***@y.test')
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})

describe('RequestRing.jsonLines', () => {
  it('writes exactly what JSON.stringify would, oldest first, escapes included', () => {
    const ring = new RequestRing(3)
    const tricky = { ...entry(7, 'we"ird\\host\n\u0001'), error: 'dns-failed', ruleId: 'r "1" \ud800 😀' }
    const big = { ...entry(8), at: 1_763_790_000_123, durationMs: 1.5 }
    // Wrapped around: entry(1) was overwritten; two entries share a millisecond.
    for (const e of [entry(1), entry(2), tricky, big, { ...big, connectionId: 9 }]) ring.push(e)
    const expected = [tricky, big, { ...big, connectionId: 9 }].map((e) => `${JSON.stringify(e)}\n`).join('')
    expect(ring.jsonLines()).toBe(expected)
    ring.clear()
    expect(ring.jsonLines()).toBe('')
  })
})
