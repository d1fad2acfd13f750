/**
 * The language shown for "System" (common/language.ts), for the page (the browser's list) and the
 * tray (the OS's list, as Electron's `app.getPreferredSystemLanguages()` reports it on each OS):
 * Simplified Chinese for Simplified tags, English for Traditional Chinese and for languages Junction
 * does not have, the first match in the list winning.
 */
import { describe, expect, it } from 'vitest'
import { languageFor, shownLanguage } from '../../../common/language.ts'

describe('languageFor', () => {
  it.each([
    [['zh-CN'], 'zh-CN'],
    [['zh-Hans-CN', 'en-US'], 'zh-CN'], // macOS
    [['zh-Hans'], 'zh-CN'],
    [['zh-SG'], 'zh-CN'],
    [['zh'], 'zh-CN'], // CLDR: zh is zh-Hans-CN
    [['zh_CN.UTF-8', 'zh_CN', 'zh'], 'zh-CN'], // POSIX names, as LANG spells them
    [['en-US'], 'en'],
    [['en-GB', 'zh-CN'], 'en'], // the first match wins
    [['fr'], 'en'],
    [['fr-FR', 'zh-Hans-CN'], 'zh-CN'], // a language Junction lacks is passed over
    [[], 'en'],
    [['C', 'POSIX', ''], 'en']
  ] as const)('%j → %s', (preferred, shown) => {
    expect(languageFor(preferred)).toBe(shown)
  })

  it.each([
    [['zh-TW'], 'en'],
    [['zh-HK', 'en-US'], 'en'],
    [['zh-MO'], 'en'],
    [['zh-Hant-TW'], 'en'], // macOS
    [['zh-TW', 'zh', 'en-US'], 'en'], // Chrome's navigator.languages: the bare zh repeats zh-TW
    [['zh-TW', 'zh'], 'en'], // Linux, LANG=zh_TW.UTF-8
    [['zh-TW', 'zh-CN'], 'zh-CN'], // a Simplified tag named later is honoured
    [['zh-Hant', 'zh-Hans'], 'zh-CN'],
    [['yue-HK'], 'en'] // Cantonese is another language
  ] as const)('Traditional Chinese is not Simplified: %j → %s', (preferred, shown) => {
    expect(languageFor(preferred)).toBe(shown)
  })
})

describe('shownLanguage', () => {
  it('an explicit pick wins; System and no pick at all follow the list', () => {
    expect(shownLanguage('en', ['zh-CN'])).toBe('en')
    expect(shownLanguage('zh-CN', ['en-US'])).toBe('zh-CN')
    expect(shownLanguage('system', ['zh-CN'])).toBe('zh-CN')
    expect(shownLanguage(undefined, ['zh-CN'])).toBe('zh-CN')
    expect(shownLanguage(undefined, ['fr'])).toBe('en')
  })
})
