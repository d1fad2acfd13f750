/**
 * The message catalogues: Simplified Chinese has every English key (the type check enforces that
 * too) and keeps each message's placeholders, so no `{name}` is lost or left unfilled; plural
 * messages give the forms their language needs. The Chinese keeps to its glossary
 * (renderer/src/lib/i18n/GLOSSARY.md) — one word per concept — and to Chinese UI typography.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { en, type MessageKey } from '../../../renderer/src/lib/i18n/en.ts'
import type { Message } from '../../../renderer/src/lib/i18n/messages.ts'
import { zhCN } from '../../../renderer/src/lib/i18n/zh-CN.ts'

const keys = Object.keys(en) as MessageKey[]
const forms = (message: Message): string[] =>
  typeof message === 'string'
    ? [message]
    : [...(message.one === undefined ? [] : [message.one]), message.other]
/** Every placeholder of a text, as often as it occurs, in order of name. */
const placeholders = (text: string): string[] => (text.match(/\{\w+\}/g) ?? []).sort()
const withoutPlaceholders = (text: string): string => text.replace(/\{\w+\}/g, '')
/** A placeholder stands for some text: a mark that is neither Chinese, Latin, space nor punctuation. */
const placeholdersMarked = (text: string): string => text.replace(/\{\w+\}/g, '◊')

/** GLOSSARY.md's table: English term → its Chinese, and the words no message may use. */
function readGlossary(): { terms: Map<string, string>; avoided: string[] } {
  const file = path.resolve(import.meta.dirname, '../../../renderer/src/lib/i18n/GLOSSARY.md')
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| English') && !line.startsWith('| ---'))
    .map((line) => line.split('|').map((cell) => cell.trim()))
  return {
    terms: new Map(rows.map(([, english, chinese]) => [english!, chinese!])),
    avoided: rows.flatMap(([, , , avoid]) => (avoid ? avoid.split('、') : []))
  }
}
const glossary = readGlossary()

/**
 * The key terms: each English message with the term (placeholders aside) must use the glossary's
 * Chinese, and none of the words that would mean something else here.
 */
const TERMS: {
  term: string
  english: RegExp
  not?: string[]
  /** Messages where the English word means something else. */
  except?: MessageKey[]
}[] = [
  { term: 'upstream', english: /upstream/i, not: ['节点'] },
  {
    term: 'profile',
    english: /\bprofiles?\b/i,
    // A Chromium profile (its user data folder), not one of Junction's.
    except: ['ca.launched', 'ca.throwaway', 'ca.throwawayAbout']
  },
  { term: 'Chromium profile', english: /(Chromium|fresh) profile/i, not: ['配置'] },
  { term: 'group', english: /\bgroups?\b/i, not: ['分组'] },
  { term: 'rule', english: /\brules?\b/i },
  // "CIDR block" is an address range.
  { term: 'block', english: /\bblock\b/i, not: ['解密', '阻止'], except: ['settings.bypass'] },
  { term: 'reject', english: /\breject\b/i },
  {
    term: 'direct',
    english: /\bdirect\b/i,
    // `Direct` there is the built-in profile's name, which stays as it is.
    except: ['profiles.directAbout', 'rules.noProfile']
  },
  { term: 'intercept', english: /intercept/i, not: ['拦截'] },
  { term: 'system proxy', english: /system proxy/i },
  { term: 'latency', english: /latency/i },
  { term: 'tunnel', english: /tunnel/i },
  { term: 'open connection', english: /open connection/i },
  { term: 'plain HTTP', english: /plain[- ]HTTP/i }
]

/** Messages that read the same in Chinese: formats, examples and syntax. */
const SAME_AS_ENGLISH: MessageKey[] = ['inspect.body.json']

/** Placeholders whose value is itself Chinese (a view, a time range, a field), so no space beside them. */
const CHINESE_VALUES = new Set(['what', 'range', 'label', 'row'])
const HAN = '\\u4e00-\\u9fff'
/** Typography rules for zh-CN (GLOSSARY.md, "Typography"), each a pattern that must not match. */
const TYPOGRAPHY: [string, RegExp][] = [
  ['a space between Chinese and Latin or digits', new RegExp(`[${HAN}][A-Za-z0-9]|[A-Za-z0-9][${HAN}]`)],
  ['full-width punctuation next to Chinese', new RegExp(`[${HAN}][,;!?()]|[,;!?(][${HAN}]|[${HAN}]:(\\s|$)`)],
  ['no space next to full-width punctuation', /\s[，。、；：？！）”]|[（“，。、；：？！]\s/],
  ['the ellipsis character', /\.\.\./],
  ['no English dash between clauses', /\s[—–]\s/]
]

describe('message catalogues', () => {
  it('zh-CN has exactly the keys of en', () => {
    expect(Object.keys(zhCN).sort()).toEqual([...keys].sort())
  })

  it('every zh-CN form has exactly the placeholders of the English, as often', () => {
    const differ = keys.filter((key) => {
      const english = placeholders(forms(en[key]).at(-1)!).join()
      return forms(zhCN[key]).some((form) => placeholders(form).join() !== english)
    })
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

  it('no zh-CN message is the English unchanged, except formats and syntax', () => {
    const same = keys.filter((key) => JSON.stringify(zhCN[key]) === JSON.stringify(en[key]))
    expect(same).toEqual(SAME_AS_ENGLISH)
  })
})

describe('zh-CN glossary', () => {
  it('has 30–60 terms, including every key term checked below', () => {
    expect(glossary.terms.size).toBeGreaterThanOrEqual(30)
    expect(glossary.terms.size).toBeLessThanOrEqual(60)
    expect(TERMS.filter(({ term }) => !glossary.terms.has(term))).toEqual([])
  })

  it('no message uses a word the glossary rules out', () => {
    expect(glossary.avoided.length).toBeGreaterThan(5)
    const found = keys.flatMap((key) =>
      glossary.avoided
        .filter((word) => forms(zhCN[key]).some((form) => form.includes(word)))
        .map((word) => `${key}: ${word}`)
    )
    expect(found).toEqual([])
  })

  it.each(TERMS)('“$term” reads the same everywhere', ({ term, english, not = [], except = [] }) => {
    const chinese = glossary.terms.get(term)!
    const using = keys.filter(
      (key) => !except.includes(key) && forms(en[key]).some((form) => english.test(withoutPlaceholders(form)))
    )
    expect(using.length).toBeGreaterThan(0)
    const wrong = using.filter((key) => {
      const text = forms(zhCN[key]).join('\n')
      return !text.includes(chinese) || not.some((word) => text.includes(word))
    })
    expect(wrong.map((key) => `${key}: ${forms(zhCN[key]).join(' | ')}`)).toEqual([])
  })
})

describe('zh-CN typography', () => {
  it.each(TYPOGRAPHY)('%s', (_rule, pattern) => {
    const found = keys.flatMap((key) =>
      forms(zhCN[key])
        .filter((form) => pattern.test(placeholdersMarked(form)))
        .map((form) => `${key}: ${form}`)
    )
    expect(found).toEqual([])
  })

  it('a space between Chinese and a placeholder whose value is Latin or digits', () => {
    const touching = new RegExp(`[${HAN}]\\{(\\w+)\\}|\\{(\\w+)\\}[${HAN}]`, 'g')
    const found = keys.flatMap((key) =>
      forms(zhCN[key]).flatMap((form) =>
        [...form.matchAll(touching)]
          .filter((match) => !CHINESE_VALUES.has((match[1] ?? match[2])!))
          .map((match) => `${key}: ${match[0]}`)
      )
    )
    expect(found).toEqual([])
  })

  it('the typography rules catch what they are for', () => {
    const broken = ['Junction未运行', '已保存,请重试', '名称 ：值', '加载中...', '已停止 — 未运行']
    for (const [index, text] of broken.entries())
      expect([text, TYPOGRAPHY[index]![1].test(text)]).toEqual([text, true])
  })
})
