import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { LoopGuard } from '../../../main/engine/loop-guard.ts'

describe('LoopGuard', () => {
  it('knows a loopback listener by address, localhost and mapped forms, on its port only', () => {
    const guard = new LoopGuard()
    guard.listening('127.0.0.1', 8899)
    for (const host of ['127.0.0.1', 'localhost', 'LOCALHOST.', '[::ffff:127.0.0.1]', '::ffff:7f00:1'])
      expect(guard.isLoop(host, 8899, undefined), host).toBe(true)
    expect(guard.isLoop('127.0.0.1', 8898, undefined)).toBe(false)
    expect(guard.isLoop('127.0.0.2', 8899, undefined)).toBe(false)
    expect(guard.isLoop('example.com', 8899, undefined)).toBe(false)
  })

  it('knows every interface address when listening on all of them', () => {
    const guard = new LoopGuard()
    guard.listening('0.0.0.0', 3128)
    const first = Object.values(os.networkInterfaces()).flat()[0]!
    expect(guard.isLoop(first.address, 3128, undefined)).toBe(true)
    expect(guard.isLoop(os.hostname(), 3128, undefined)).toBe(true)
    expect(guard.isLoop('localhost', 3128, undefined)).toBe(true)
  })

  it('recognises its own Via token, not another Junction’s', () => {
    const guard = new LoopGuard()
    guard.listening('127.0.0.1', 8899)
    expect(guard.token).toMatch(/^junction-[0-9a-f]{6}$/)
    expect(guard.isLoop('example.com', 80, `1.0 corp-proxy, 1.1 ${guard.token}`)).toBe(true)
    expect(guard.isLoop('example.com', 80, '1.1 junction-000000')).toBe(guard.token === 'junction-000000')
  })
})
