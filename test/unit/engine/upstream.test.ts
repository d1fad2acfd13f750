import { describe, expect, it } from 'vitest'
import { describeUpstream, redactUrl, upstreamUrl } from '../../../main/engine/upstream.ts'

describe('upstream URLs', () => {
  it('percent-encodes credentials so special characters survive', () => {
    const url = upstreamUrl({
      id: 'u',
      name: 'U',
      scheme: 'socks5h',
      host: '127.0.0.1',
      port: 1080,
      username: 'me@corp',
      password: 'p@ss:w/rd%'
    })
    expect(url).toBe('socks5h://me%40corp:p%40ss%3Aw%2Frd%25@127.0.0.1:1080')
    const parsed = new URL(url)
    expect(decodeURIComponent(parsed.username)).toBe('me@corp')
    expect(decodeURIComponent(parsed.password)).toBe('p@ss:w/rd%')
  })

  it('brackets IPv6 hosts and omits empty credentials', () => {
    expect(upstreamUrl({ id: 'u', name: 'U', scheme: 'http', host: '::1', port: 3128 })).toBe(
      'http://[::1]:3128'
    )
    // Written with its brackets, an IPv6 host gets no second pair.
    const bracketed = { id: 'u', name: 'U', scheme: 'http' as const, host: '[::1]', port: 3128 }
    expect(upstreamUrl(bracketed)).toBe('http://[::1]:3128')
    expect(describeUpstream(bracketed)).toBe('upstream proxy "U" (http://[::1]:3128)')
  })

  it('never shows a password in descriptions or logs', () => {
    const upstream = {
      id: 'u',
      name: 'Corp',
      scheme: 'https' as const,
      host: 'proxy.test',
      port: 443,
      username: 'a',
      password: 'hunter2'
    }
    expect(describeUpstream(upstream)).toBe('upstream proxy "Corp" (https://proxy.test:443)')
    expect(redactUrl(`failed via ${upstreamUrl(upstream)} today`)).toBe(
      'failed via https://a:***@proxy.test:443 today'
    )
  })
})
