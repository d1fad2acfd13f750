/**
 * The message catalogues: Simplified Chinese has every English key (the type check enforces that
 * too) and keeps each message's placeholders, so no `{name}` is lost or left unfilled; plural
 * messages give the forms their language needs.
 */
import { describe, expect, it } from 'vitest'
import { en, type MessageKey } from '../../../renderer/src/lib/i18n/en.ts'
import type { Message } from '../../../renderer/src/lib/i18n/messages.ts'
import { zhCN } from '../../../renderer/src/lib/i18n/zh-CN.ts'

const placeholders = (message: Message): string[] => {
  const forms = typeof message === 'string' ? [message] : [message.one ?? '', message.other]
  return [...new Set(forms.flatMap((form) => form.match(/\{\w+\}/g) ?? []))].sort()
}

describe('message catalogues', () => {
  const keys = Object.keys(en) as MessageKey[]

  it('zh-CN has exactly the keys of en', () => {
    expect(Object.keys(zhCN).sort()).toEqual([...keys].sort())
  })

  it('zh-CN keeps the placeholders of every English message', () => {
    const differ = keys.filter((key) => placeholders(zhCN[key]).join() !== placeholders(en[key]).join())
    expect(differ).toEqual([])
  })

  it('every English plural has both forms English needs, one and other', () => {
    const plurals = keys.filter((key) => typeof en[key] !== 'string')
    expect(plurals.length).toBeGreaterThan(5)
    for (const key of plurals) {
      const message = en[key] as Exclude<Message, string>
      expect([key, typeof message.one, typeof message.other]).toEqual([key, 'string', 'string'])
    }
  })

  it('zh-CN is Chinese, not English left in place', () => {
    // Proper nouns, protocol names and units may stay; a whole English sentence may not.
    const english = keys.filter((key) => {
      const text = JSON.stringify(zhCN[key])
      return !/[\u4e00-\u9fff]/.test(text) && /[a-z]{3,} [a-z]{3,}/i.test(text)
    })
    expect(english).toEqual([])
  })
})
