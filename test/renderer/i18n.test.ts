/**
 * The UI language: "System" follows the browser's list (test/unit/i18n/language.test.ts), a choice is
 * kept in localStorage and applied at once — a rendered view changes without being mounted again —
 * and `t()` fills placeholders and picks plural forms for the language.
 */
import { cleanup, render, screen } from '@testing-library/svelte'
import { flushSync } from 'svelte'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { locale, t } from '../../renderer/src/lib/i18n/locale.svelte.ts'
import TrafficShares from '../../renderer/src/lib/components/TrafficShares.svelte'

vi.mock('../../renderer/src/lib/api.ts', () => ({ api: {}, isDesktop: false }))

afterEach(() => {
  cleanup()
  locale.choice = 'system'
})

describe('language', () => {
  it('a choice is kept, sets <html lang> and changes what is already on screen', () => {
    render(TrafficShares, { props: { title: 'x', shares: [], testid: 'shares' } })
    expect(screen.getByText('No traffic in this range')).toBeTruthy()
    locale.choice = 'zh-CN'
    flushSync()
    expect(screen.getByText('此时间范围内没有流量')).toBeTruthy()
    expect(screen.queryByText('No traffic in this range')).toBeNull()
    expect(document.documentElement.lang).toBe('zh-CN')
    expect(localStorage.getItem('junction:language')).toBe('zh-CN')
    locale.choice = 'en'
    flushSync()
    expect(screen.getByText('No traffic in this range')).toBeTruthy()
    expect(document.documentElement.lang).toBe('en')
  })

  it('fills placeholders and picks the plural form by count, with digit grouping', () => {
    locale.choice = 'en'
    expect(t('connections.closeAllTitle', { count: 1 })).toBe('Close 1 connection?')
    expect(t('connections.closeAllTitle', { count: 1200 })).toBe('Close 1,200 connections?')
    expect(t('link.tryingIn', { seconds: 5 })).toBe('Trying again in 5 s.')
    // A port is not a count: no grouping.
    expect(t('settings.inUseNext', { port: 18600, saved: 8899 })).toBe(
      '18600 (saved: 8899, used from the next start)'
    )
    locale.choice = 'zh-CN'
    expect(t('connections.closeAllTitle', { count: 1 })).toBe('关闭 1 个连接？')
    expect(t('activity.rewritten', { count: 2 })).toBe('已改写 2 个头部')
  })
})
