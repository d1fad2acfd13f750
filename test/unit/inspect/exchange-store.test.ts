/**
 * The Inspect view's store: what it keeps (bounded by count and by preview bytes, oldest dropped
 * first), how it filters, how it renders bodies for reading and requests as curl commands, and how
 * often it tells listeners that something changed.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import zlib from 'node:zlib'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Exchange } from '../../../main/engine/capture.ts'
import { keep } from '../../../main/engine/capture.ts'
import { renderBody, DECODED_LIMIT } from '../../../main/inspect/body-view.ts'
import { curlCommand, shellQuote } from '../../../main/inspect/curl.ts'
import { ExchangeStore } from '../../../main/inspect/exchange-store.ts'

let nextId = 1

function exchange(overrides: Partial<Exchange> = {}): Exchange {
  return {
    id: nextId++,
    at: Date.now(),
    method: 'GET',
    url: 'http://a.test/',
    intercepted: false,
    profileId: 'direct',
    ruleId: null,
    route: 'direct',
    requestHeaders: ['Host', 'a.test'],
    requestBody: { chunks: [], kept: 0, total: 0 },
    status: 200,
    responseHeaders: [],
    responseBody: { chunks: [], kept: 0, total: 0 },
    error: null,
    durationMs: 5,
    ...overrides
  }
}

/** A preview of `body` as the engine builds it: chunks kept up to `limit`. */
function preview(body: Buffer, limit = 64 * 1024) {
  const kept = { chunks: [] as Buffer[], kept: 0, total: 0 }
  for (let i = 0; i < body.length; i += 1000) keep(kept, body.subarray(i, i + 1000), limit)
  return kept
}

function record(store: ExchangeStore, ex: Exchange): Exchange {
  store.started(ex)
  store.finished(ex)
  return ex
}

describe('limits', () => {
  it('drops the oldest exchanges beyond the count limit', () => {
    const store = new ExchangeStore({ maxExchanges: 3 })
    const urls = [1, 2, 3, 4, 5].map((n) => record(store, exchange({ url: `http://h${n}.test/` })).url)
    expect(store.list({ offset: 0, limit: 10 }).rows.map((r) => r.url)).toEqual(urls.slice(2).reverse())
    expect(store.state().count).toBe(3)
  })

  it('drops the oldest exchanges when body previews exceed the byte limit, and counts what is left', () => {
    const store = new ExchangeStore({ maxBytes: 2500, previewBytes: 1000 })
    const big = (n: number) =>
      exchange({ url: `http://h${n}.test/`, responseBody: preview(Buffer.alloc(5000, 'x'), 1000) })
    for (const n of [1, 2]) record(store, big(n))
    expect(store.state()).toMatchObject({ count: 2, bytes: 2000 })
    record(store, big(3))
    expect(store.list({ offset: 0, limit: 10 }).rows.map((r) => r.host)).toEqual(['h3.test', 'h2.test'])
    expect(store.state()).toMatchObject({ count: 2, bytes: 2000 })
  })

  it('forgets an exchange cleared while in flight, and clear empties the store', () => {
    const store = new ExchangeStore()
    const inFlight = exchange({ status: null, durationMs: null })
    store.started(inFlight)
    expect(store.list({ offset: 0, limit: 10 }).rows[0]).toMatchObject({ status: null, durationMs: null })
    expect(store.clear()).toEqual({ recording: false, count: 0, bytes: 0 })
    inFlight.responseBody = preview(Buffer.alloc(100))
    store.finished(inFlight)
    expect(store.state()).toEqual({ recording: false, count: 0, bytes: 0 })
  })
})

describe('list', () => {
  const store = new ExchangeStore()
  record(store, exchange({ method: 'GET', url: 'http://api.example.test/users?id=1', status: 200 }))
  record(store, exchange({ method: 'POST', url: 'http://api.example.test/login', status: 401 }))
  record(store, exchange({ method: 'GET', url: 'http://cdn.other.test/app.js', status: 404 }))
  record(store, exchange({ method: 'GET', url: 'http://[::1]:8080/x', status: 503 }))
  const urls = (filter: Parameters<typeof store.list>[0]['filter']) =>
    store.list({ offset: 0, limit: 10, filter }).rows.map((r) => r.url)

  it('filters by host part, status or class, method and URL text, newest first', () => {
    expect(urls({ host: 'EXAMPLE' })).toEqual([
      'http://api.example.test/login',
      'http://api.example.test/users?id=1'
    ])
    expect(urls({ status: '4xx' })).toEqual(['http://cdn.other.test/app.js', 'http://api.example.test/login'])
    expect(urls({ status: '4' })).toEqual(urls({ status: '4xx' }))
    expect(urls({ status: '404' })).toEqual(['http://cdn.other.test/app.js'])
    expect(urls({ method: 'post' })).toEqual(['http://api.example.test/login'])
    expect(urls({ text: 'ID=1' })).toEqual(['http://api.example.test/users?id=1'])
    expect(urls({ host: '::1' })).toEqual(['http://[::1]:8080/x'])
    expect(urls({ host: 'example', method: 'GET' })).toEqual(['http://api.example.test/users?id=1'])
  })

  it('pages with the total of matching rows', () => {
    const page = store.list({ offset: 1, limit: 2 })
    expect(page.total).toBe(4)
    expect(page.rows.map((r) => r.url)).toEqual([
      'http://cdn.other.test/app.js',
      'http://api.example.test/login'
    ])
  })
})

describe('rendered bodies', () => {
  const json = Buffer.from(JSON.stringify({ user: { id: 7, name: 'Ada' }, tags: ['a', 'b'] }))
  const pretty = JSON.stringify(JSON.parse(json.toString()), null, 2)

  it.each([
    ['gzip', zlib.gzipSync],
    ['br', zlib.brotliCompressSync],
    ['deflate', zlib.deflateSync],
    ['deflate', zlib.deflateRawSync]
  ] as const)('decodes %s and pretty-prints JSON', async (coding, encode) => {
    const view = await renderBody(preview(encode(json)), [
      'Content-Type',
      'application/json; charset=utf-8',
      'Content-Encoding',
      coding
    ])
    expect(view).toMatchObject({
      kind: 'json',
      text: pretty,
      decodedFrom: coding,
      truncated: false,
      note: null
    })
  })

  it.each([
    ['gzip', zlib.gzipSync],
    ['br', zlib.brotliCompressSync],
    ['deflate', zlib.deflateSync]
  ] as const)('decodes what it can of a cut %s stream and says it was cut', async (coding, encode) => {
    // Random base64 compresses poorly, so 64 KiB of the stream is well short of the whole.
    const text = randomBytes(150_000).toString('base64')
    const encoded = encode(Buffer.from(text))
    expect(encoded.length).toBeGreaterThan(64 * 1024)
    const view = await renderBody(preview(encoded), [
      'Content-Type',
      'text/plain',
      'Content-Encoding',
      coding
    ])
    expect(view.kind).toBe('text')
    expect(view.truncated).toBe(true)
    expect([view.previewBytes, view.totalBytes]).toEqual([64 * 1024, encoded.length])
    // More text than preview bytes: the kept part was decoded, not shown raw.
    expect(view.text.length).toBeGreaterThan(64 * 1024)
    expect(text.startsWith(view.text)).toBe(true)
    expect(view.note).toContain(`The ${coding} stream was cut there`)
  })

  it('caps what a small compressed body expands to', async () => {
    const view = await renderBody(preview(zlib.gzipSync(Buffer.alloc(4 * DECODED_LIMIT, 'a'))), [
      'Content-Type',
      'text/plain',
      'Content-Encoding',
      'gzip'
    ])
    expect(view.text.length).toBe(DECODED_LIMIT)
    expect(view.note).toContain('Decoded text cut at 1024 KiB')
  })

  it('says when a body cannot be decoded, and shows it as received', async () => {
    const view = await renderBody(preview(Buffer.from('not gzip at all')), ['Content-Encoding', 'gzip'])
    expect(view.decodedFrom).toBeNull()
    expect(view.kind).toBe('binary')
    expect(view.note).toMatch(/^Could not decode gzip: .*; shown as received\.$/)
  })

  it('shows cut JSON as text and says so', async () => {
    const view = await renderBody(preview(Buffer.from(`[${'1,'.repeat(40_000)}1]`)), [
      'Content-Type',
      'application/json'
    ])
    expect(view).toMatchObject({ kind: 'text', truncated: true })
    expect(view.note).toContain('Not complete JSON (cut); shown as text.')
  })

  it('shows undeclared UTF-8 as text, and binary as a hex dump of the first 4 KiB', async () => {
    expect(await renderBody(preview(Buffer.from('héllo\n')), [])).toMatchObject({
      kind: 'text',
      text: 'héllo\n'
    })
    const png = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n\x00\x00', 'latin1'), Buffer.alloc(5000, 0xab)])
    const view = await renderBody(preview(png), ['Content-Type', 'image/png'])
    expect(view.kind).toBe('binary')
    const lines = view.text.split('\n')
    expect(lines).toHaveLength(4096 / 16)
    expect(lines[0]).toBe('00000000  89 50 4e 47 0d 0a 1a 0a  00 00 ab ab ab ab ab ab  |.PNG............|')
    expect(view.note).toBe('Binary: the first 4 KiB as hex.')
  })

  it('renders an empty body as empty', async () => {
    expect(await renderBody({ chunks: [], kept: 0, total: 0 }, null)).toMatchObject({
      kind: 'empty',
      text: ''
    })
  })
})

describe('curl', () => {
  it('quotes for a POSIX shell, a single quote in a header value included', () => {
    const command = curlCommand(
      exchange({
        method: 'POST',
        url: 'http://a.test/search?q=1&r=2',
        requestHeaders: [
          'Host',
          'a.test',
          'X-Note',
          "it's here; $(rm -rf ~)",
          'Content-Length',
          '9',
          'Connection',
          'keep-alive',
          'Via',
          '1.1 junction-0a1b2c',
          'Accept-Encoding',
          'gzip, br'
        ],
        requestBody: preview(Buffer.from("{'a': 1}\n"))
      })
    )
    expect(command).toBe(
      [
        'curl',
        '-X POST',
        "'http://a.test/search?q=1&r=2'",
        `-H 'X-Note: it'\\''s here; $(rm -rf ~)'`,
        "-H 'Accept-Encoding: gzip, br'",
        '--compressed',
        `--data-binary '{'\\''a'\\'': 1}\n'`
      ].join(' \\\n  ')
    )
    // The shell reads the quoted words back exactly.
    const echoed = execFileSync('sh', ['-c', `printf '%s\\n' ${shellQuote("it's here; $(rm -rf ~)")}`])
    expect(echoed.toString()).toBe("it's here; $(rm -rf ~)\n")
  })

  it('leaves out a cut or binary body', () => {
    const cut = exchange({ method: 'PUT', requestBody: preview(Buffer.alloc(100, 'a'), 10) })
    const binary = exchange({ method: 'PUT', requestBody: preview(Buffer.from([0, 1, 2, 0xff])) })
    for (const ex of [cut, binary]) expect(curlCommand(ex)).not.toContain('--data-binary')
    expect(curlCommand(exchange({ method: 'HEAD' }))).toBe('curl \\\n  --head \\\n  http://a.test/')
  })
})

describe('change events', () => {
  afterEach(() => vi.useRealTimers())

  it('tell listeners at most once per interval, and always about the last change', () => {
    vi.useFakeTimers()
    const store = new ExchangeStore({ notifyMs: 250 })
    const seen: number[] = []
    store.on('change', (state) => seen.push(state.count))
    store.setRecording(true)
    for (let i = 0; i < 10; i++) record(store, exchange())
    expect(seen).toEqual([0])
    vi.advanceTimersByTime(249)
    expect(seen).toEqual([0])
    vi.advanceTimersByTime(1)
    expect(seen).toEqual([0, 10])
    vi.advanceTimersByTime(1000)
    expect(seen).toEqual([0, 10])
  })

  it('recording is off until switched on, and the switch is reported', () => {
    const store = new ExchangeStore()
    expect(store.recording).toBe(false)
    expect(store.setRecording(true)).toEqual({ recording: true, count: 0, bytes: 0 })
    expect(store.recording).toBe(true)
  })
})
