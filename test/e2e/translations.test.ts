/**
 * Simplified Chinese in real Chromium against headless Junction: switching the language in Settings
 * changes the page at once (no reload) and sets `<html lang>`, and then every visible string of each
 * converted view — text, aria-label, title, placeholder, open dialogs included — is translated. A
 * string fails when it reads as an English catalogue message (placeholders matching anything) or has
 * three English words in a row, unless it is a proper noun on the short allow-list below, code
 * (commands, file names), or marked in the page: `translate="no"` for data such as a certificate's
 * subject, `lang="en"` for text from main.
 *
 * Profiles is checked with a profile that has an upstream, a group and rules, its editor open and an
 * import previewed; Rules with that profile's rules, the edit panel and the paste panel open. Messages
 * from main (validation and engine errors, close reasons, rule descriptions, import notes) and the
 * rule-line checks stay English for now; the UI marks them `lang="en"`. A rule's matchers and action
 * are shown in the rule-line syntax that paste reads (`domain example.com → via Squid`), marked
 * `translate="no"`. In Chinese, the views also keep to 800×600 without sideways scrolling and pass
 * axe-core.
 */
import { promises as fs } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { en } from '../../renderer/src/lib/i18n/en.ts'
import type { Message } from '../../renderer/src/lib/i18n/messages.ts'
import type { Profile } from '../../common/model.ts'
import { serveWithDashboard, type Running } from '../harness/headless-process.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { launchChromium } from './chromium.ts'
import { closeSession, ensureRendererBuilt } from './session.ts'

/** Every view, by its address. */
const VIEWS = ['overview', 'profiles', 'rules', 'connections', 'activity', 'inspect', 'settings'] as const

const CLASH = path.resolve(import.meta.dirname, '../fixtures/import/clash.yaml')

/**
 * A profile with something in every part of the Profiles and Rules views: an upstream, a group using
 * it, and rules with names, header edits, interception, a disabled one and one through the group. Not
 * active, so Overview keeps the Direct profile and the group's members read "not running". The names
 * are the user's data; none reads as an English sentence.
 */
const OFFICE: Profile = {
  id: 'office',
  name: 'Office',
  upstreams: [{ id: 'u-squid', name: 'Squid', scheme: 'http', host: '127.0.0.1', port: 9 }],
  groups: [{ id: 'g-pool', name: 'Pool', strategy: 'failover', members: ['u-squid'] }],
  rules: [
    {
      id: 'r-ads',
      name: 'Ads',
      enabled: true,
      matchers: [{ type: 'domain', value: 'ads.example' }],
      action: { type: 'block', status: 403, body: 'Blocked by Junction' }
    },
    {
      id: 'r-api',
      name: 'API',
      enabled: true,
      intercept: true,
      matchers: [
        { type: 'domain', value: 'api.example' },
        { type: 'port', value: '443' }
      ],
      action: { type: 'upstream', upstreamId: 'u-squid' },
      rewrite: { request: [{ op: 'set', name: 'X-Debug', value: '1' }] }
    },
    {
      id: 'r-pool',
      enabled: false,
      matchers: [{ type: 'wildcard', value: '*.internal' }],
      action: { type: 'upstream', upstreamId: 'g-pool' }
    }
  ],
  defaultAction: { type: 'direct' }
}

/** What each view needs before it is read: the profile opened in the editor, the rules listed. */
const READY: Partial<Record<(typeof VIEWS)[number], () => Promise<void>>> = {
  profiles: async () => {
    await page.getByRole('button', { name: 'Office', exact: true }).click()
    await page.getByTestId('group-editor').waitFor()
  },
  rules: async () => {
    await page.getByTestId('rule-item').first().waitFor()
  }
}

/**
 * Proper nouns, protocol names and formats that read the same in Chinese. `Direct` is the built-in
 * profile's name, which main gives it like the user names theirs (the Rules editor's "Direct" action
 * is a different string that is translated, and caught by the rest of its panel if it were not).
 */
const ALLOWED = new Set(['Junction', 'HTTP', 'CONNECT', 'JSON', 'URL', 'Direct'])

let running: Running | undefined
let dataDir: string
let browser: Awaited<ReturnType<typeof launchChromium>>
let page: Page
let origin: Origin
let proxyPort: number
/** Keeps a connection open through the proxy, so Connections has a row and Close all is enabled. */
const keepAlive = new http.Agent({ keepAlive: true })

function get(pathname: string): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    http
      .get(
        { host: '127.0.0.1', port: proxyPort, path: `${origin.url}${pathname}`, agent: keepAlive },
        (res) => res.resume().once('end', resolve)
      )
      .once('error', reject)
  )
}

beforeAll(async () => {
  ensureRendererBuilt()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-e2e-i18n-'))
  await fs.writeFile(path.join(dataDir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [OFFICE] }))
  const started = await serveWithDashboard(dataDir)
  running = started.running
  proxyPort = started.proxyPort
  origin = await startOrigin()
  browser = await launchChromium()
  page = await browser.context.newPage()
  await page.goto(started.dashboardUrl)
  await page.getByTestId('engine-status').filter({ hasText: 'listening' }).waitFor({ timeout: 10_000 })
  // Opening Inspect switches recording on; the requests after it give every view rows to show.
  await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Inspect' }).click()
  await page.getByTestId('recording-toggle').filter({ hasText: 'Pause' }).waitFor({ timeout: 10_000 })
  for (let i = 0; i < 2; i++) await get(`/i18n-${i}`)
}, 120_000)
afterAll(async () => {
  keepAlive.destroy()
  await origin?.close()
  await closeSession({ browser, running, dataDir })
})

/** The language main keeps in settings.json for the tray menu. */
async function savedLanguage(): Promise<string | undefined> {
  const file = await fs.readFile(path.join(dataDir, 'settings.json'), 'utf8').catch(() => '{}')
  return (JSON.parse(file) as { language?: string }).language
}

/** A catalogue message as a pattern: its placeholders match any text, the rest must match exactly. */
function pattern(template: string): RegExp {
  const parts = template.split(/\{\w+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${parts.join('.+')}$`)
}
const ENGLISH = (Object.values(en) as Message[])
  .flatMap((message) => (typeof message === 'string' ? [message] : [message.one ?? '', message.other]))
  .filter((text) => /[A-Za-z]{2,}/.test(text.replace(/\{\w+\}/g, '')))
  .map(pattern)
const THREE_WORDS = /[A-Za-z]{2,}[ ,]+[A-Za-z]{2,}[ ,]+[A-Za-z]{2,}/

/** The little of the DOM read below: this file compiles with Node's types, `page.evaluate` runs in the page. */
interface DomElement {
  closest(selector: string): DomElement | null
  checkVisibility(options: { visibilityProperty: boolean }): boolean
  getAttribute(name: string): string | null
  querySelectorAll(selector: string): Iterable<DomElement>
}
interface InPage {
  document: {
    body: DomElement
    createTreeWalker(
      root: DomElement,
      show: number
    ): { nextNode(): { textContent: string | null; parentElement: DomElement | null } | null }
  }
}
/** What the language switch and the layout check read in the page. */
interface Switching {
  document: {
    querySelector(selector: string): {
      value: string
      textContent: string
      dispatchEvent(event: Event): boolean
    } | null
    documentElement: { scrollWidth: number; clientWidth: number }
  }
  requestAnimationFrame(callback: (value: unknown) => void): number
}
/** `NodeFilter.SHOW_TEXT`. */
const SHOW_TEXT = 4

/** Every visible string of the page: text nodes and the aria-label, title and placeholder attributes. */
async function visibleStrings(): Promise<string[]> {
  return page.evaluate((showText) => {
    const doc = (globalThis as unknown as InPage).document
    const found: string[] = []
    const skipped = (el: DomElement): boolean =>
      // `body [lang="en"]`: marked inside the page, not the page itself when English is chosen.
      el.closest('code, pre, kbd, script, style, [translate="no"], body [lang="en"]') !== null ||
      !el.checkVisibility({ visibilityProperty: true })
    const walker = doc.createTreeWalker(doc.body, showText)
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent?.replace(/\s+/g, ' ').trim()
      if (text && node.parentElement && !skipped(node.parentElement)) found.push(text)
    }
    for (const el of doc.body.querySelectorAll('[aria-label], [title], [placeholder]')) {
      if (skipped(el)) continue
      for (const name of ['aria-label', 'title', 'placeholder']) {
        const value = el.getAttribute(name)?.trim()
        if (value) found.push(value)
      }
    }
    return found
  }, SHOW_TEXT)
}

function untranslated(strings: string[]): string[] {
  return strings.filter(
    (text) => !ALLOWED.has(text) && (ENGLISH.some((english) => english.test(text)) || THREE_WORDS.test(text))
  )
}

async function open(view: (typeof VIEWS)[number]): Promise<void> {
  await page.evaluate(
    (id) => ((globalThis as unknown as { location: { hash: string } }).location.hash = `/${id}`),
    view
  )
  await page.waitForTimeout(400)
  await READY[view]?.()
}

describe('Simplified Chinese', () => {
  it('switches from Settings at once, without a reload, and sets <html lang>', async () => {
    await open('settings')
    const marker = await page.evaluate(
      () => ((globalThis as unknown as { junctionMark: number }).junctionMark = 1)
    )
    // Chosen the way the select reports it, timed in the page up to the next frame.
    const switched = await page.evaluate(async () => {
      const doc = (globalThis as unknown as Switching).document
      const select = doc.querySelector('[data-testid="language"]')!
      const started = performance.now()
      select.value = 'zh-CN'
      select.dispatchEvent(new Event('change', { bubbles: true }))
      await new Promise((resolve) => (globalThis as unknown as Switching).requestAnimationFrame(resolve))
      return { ms: performance.now() - started, nav: doc.querySelector('nav')!.textContent }
    })
    console.log(`language switch, change event to next frame: ${switched.ms.toFixed(1)} ms`)
    expect(switched.nav).toContain('设置')
    expect(switched.ms).toBeLessThan(1000)
    const nav = page.getByRole('navigation', { name: '视图' })
    await expect.poll(() => nav.getByRole('button', { name: '设置' }).isVisible()).toBe(true)
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN')
    // Main is told, so the tray menu (test/unit/tray) follows.
    await expect.poll(savedLanguage, { timeout: 5_000 }).toBe('zh-CN')
    // The same page: a reload would have dropped the marker.
    expect(await page.evaluate(() => (globalThis as unknown as { junctionMark?: number }).junctionMark)).toBe(
      marker
    )
  })

  it('leaves no English string in any converted view', async () => {
    const found: string[] = []
    for (const view of VIEWS) {
      await open(view)
      for (const text of untranslated(await visibleStrings())) found.push(`${view}: ${text}`)
    }
    expect(found).toEqual([])
  }, 60_000)

  it('no view scrolls sideways at 800×600 in Chinese', async () => {
    await page.setViewportSize({ width: 800, height: 600 })
    const wide: string[] = []
    for (const view of VIEWS) {
      await open(view)
      const { scrollWidth, clientWidth } = await page.evaluate(() => {
        const root = (globalThis as unknown as Switching).document.documentElement
        return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth }
      })
      if (scrollWidth > clientWidth) wide.push(`${view}: ${scrollWidth} > ${clientWidth}`)
    }
    await page.setViewportSize({ width: 1280, height: 800 })
    expect(wide).toEqual([])
  }, 60_000)

  it('stays accessible in Chinese: valid lang attributes, no serious or critical axe violation', async () => {
    const found: string[] = []
    for (const view of VIEWS) {
      await open(view)
      const { violations } = await new AxeBuilder({ page })
        .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
        .analyze()
      for (const v of violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'))
        found.push(`${view}: ${v.id} (${v.impact})`)
    }
    expect(found).toEqual([])
  }, 120_000)

  it('translates the dialogs and the detail pane too', async () => {
    const found: string[] = []
    await open('overview')
    await page.keyboard.press('?')
    await page.getByTestId('shortcuts').waitFor()
    for (const text of untranslated(await visibleStrings())) found.push(`shortcuts: ${text}`)
    await page.keyboard.press('Escape')
    await open('connections')
    await page.getByRole('button', { name: '全部关闭…' }).click()
    await page.getByRole('dialog').waitFor()
    for (const text of untranslated(await visibleStrings())) found.push(`close all: ${text}`)
    await page.keyboard.press('Escape')
    await open('settings')
    await page.getByText('如何信任此 CA').click()
    for (const text of untranslated(await visibleStrings())) found.push(`how to trust the CA: ${text}`)
    await open('inspect')
    await page.getByTestId('exchange-row').first().click()
    await page.getByTestId('response-body').waitFor()
    for (const text of untranslated(await visibleStrings())) found.push(`inspect detail: ${text}`)
    expect(found).toEqual([])
  }, 60_000)

  it('translates the Profiles editor with an import previewed', async () => {
    await open('profiles')
    await page.getByTestId('import-file').setInputFiles(CLASH)
    await page.getByTestId('import-skipped').waitFor({ timeout: 15_000 })
    // Translated, with main's words marked English inside it.
    expect(await page.getByTestId('import-preview').innerText()).toContain(
      'Clash / mihomo 配置文件：将添加 1 个配置。'
    )
    expect(untranslated(await visibleStrings())).toEqual([])
    await page.getByTestId('import-preview').getByRole('button', { name: '取消' }).click()
  }, 60_000)

  it('translates the Rules edit panel, the paste panel and the undo toast', async () => {
    const found: string[] = []
    await open('rules')
    await page.locator('[data-rule-id="r-api"]').getByRole('button', { name: '编辑 API' }).click()
    await page.getByTestId('add-rule').waitFor()
    for (const text of untranslated(await visibleStrings())) found.push(`edit rule: ${text}`)
    await page.getByRole('button', { name: '关闭且不保存' }).click()

    await page.getByTestId('paste-rules-open').click()
    // One good line, one a person would get wrong: a preview, a problem (English) and a summary.
    await page.getByTestId('paste-input').fill('domain example.org direct\ndomain bad block 999')
    await page.getByTestId('paste-errors').waitFor()
    expect(await page.getByTestId('paste-summary').innerText()).toBe('1 条规则已就绪；1 行有问题，将被跳过。')
    for (const text of untranslated(await visibleStrings())) found.push(`paste rules: ${text}`)
    await page.getByRole('button', { name: '关闭且不添加' }).click()

    await page.locator('[data-rule-id="r-ads"]').getByRole('switch').click()
    await expect.poll(() => page.getByTestId('toast').innerText()).toContain('已禁用 1 条规则。')
    for (const text of untranslated(await visibleStrings())) found.push(`undo toast: ${text}`)
    await page.getByTestId('toast-action').click()
    await expect
      .poll(() => page.locator('[data-rule-id="r-ads"]').getByRole('switch').getAttribute('aria-checked'))
      .toBe('true')
    expect(found).toEqual([])
  }, 60_000)

  it('the check itself catches English: back in English, the same views fail it', async () => {
    await open('settings')
    await page.getByTestId('language').selectOption('en')
    await page.getByRole('navigation', { name: 'Views' }).waitFor()
    await expect.poll(savedLanguage, { timeout: 5_000 }).toBe('en')
    const english = untranslated(await visibleStrings())
    expect(english).toContain('Save settings')
    expect(english.length).toBeGreaterThan(20)
    // The same for the two views converted last.
    await open('profiles')
    expect(untranslated(await visibleStrings())).toEqual(
      expect.arrayContaining(['Save profile', 'Add group'])
    )
    await open('rules')
    expect(untranslated(await visibleStrings())).toEqual(expect.arrayContaining(['New rule', 'Paste rules']))
    // "System" is saved as such, so that the tray follows the OS's languages rather than this browser's.
    await open('settings')
    await page.getByTestId('language').selectOption('system')
    await expect.poll(savedLanguage, { timeout: 5_000 }).toBe('system')
  })
})
