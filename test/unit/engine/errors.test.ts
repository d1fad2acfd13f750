import { describe, expect, it } from 'vitest'
import {
  parseRawStatus,
  rawErrorResponse,
  replyForProxyChainStatus,
  replyForSocketError
} from '../../../main/engine/errors.ts'

const direct = { upstream: null, target: 'a.test:443' }
const viaSquid = { upstream: 'upstream proxy "Squid" (http://127.0.0.1:3128)', target: 'a.test:443' }

describe('error replies', () => {
  it.each([
    [594, '', direct, 502, 'target-refused', 'a.test:443 refused the connection.'],
    [
      594,
      '',
      viaSquid,
      502,
      'upstream-refused',
      'upstream proxy "Squid" (http://127.0.0.1:3128) refused the connection.'
    ],
    [
      597,
      'UPSTREAM407',
      viaSquid,
      502,
      'upstream-auth-failed',
      `upstream proxy "Squid" (http://127.0.0.1:3128) rejected Junction's username or password.`
    ],
    [
      590,
      'UPSTREAM403',
      viaSquid,
      502,
      'upstream-rejected',
      'upstream proxy "Squid" (http://127.0.0.1:3128) refused to open a tunnel to a.test:443: it answered 403.'
    ],
    [
      593,
      '',
      viaSquid,
      502,
      'dns-failed',
      'upstream proxy "Squid" (http://127.0.0.1:3128) could not resolve a.test.'
    ],
    [
      404,
      'Not Found',
      direct,
      502,
      'dns-failed',
      'The host name a.test could not be resolved (DNS lookup failed).'
    ],
    [
      504,
      '',
      viaSquid,
      504,
      'upstream-timeout',
      'upstream proxy "Squid" (http://127.0.0.1:3128) did not answer in time.'
    ],
    [
      599,
      'Socks5 Authentication failed',
      viaSquid,
      502,
      'upstream-auth-failed',
      `upstream proxy "Squid" (http://127.0.0.1:3128) rejected Junction's username or password.`
    ],
    [
      599,
      'connect ECONNREFUSED 127.0.0.1:9',
      viaSquid,
      502,
      'upstream-refused',
      'upstream proxy "Squid" (http://127.0.0.1:3128) refused the connection.'
    ]
  ] as const)('%i %s %o → %i %s', (status, text, ctx, replyStatus, code, message) => {
    expect(replyForProxyChainStatus(status, text, ctx)).toEqual({ status: replyStatus, code, message })
  })

  it('leaves statuses that are not proxy-chain failures alone', () => {
    expect(replyForProxyChainStatus(403, 'Forbidden', direct)).toBeNull()
    expect(replyForProxyChainStatus(500, 'x', direct)).toBeNull()
  })

  it('maps errno codes of direct tunnels', () => {
    const err = (code: string) => Object.assign(new Error(code), { code })
    expect(replyForSocketError(err('ENOTFOUND'), direct).code).toBe('dns-failed')
    expect(replyForSocketError(err('ECONNREFUSED'), direct).code).toBe('target-refused')
    expect(replyForSocketError(err('ETIMEDOUT'), direct)).toMatchObject({
      status: 504,
      code: 'target-timeout'
    })
    expect(replyForSocketError(err('EHOSTUNREACH'), direct).message).toBe(
      'Connecting to a.test:443 failed: EHOSTUNREACH.'
    )
  })

  it('writes a complete raw response and reads a status line back', () => {
    const raw = rawErrorResponse({ status: 502, code: 'target-refused', message: 'nope' })
    expect(raw).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/)
    expect(raw).toContain('X-Junction-Error: target-refused\r\n')
    expect(raw).toContain('Content-Length: 5\r\n')
    expect(raw.endsWith('\r\n\r\nnope\n')).toBe(true)
    expect(parseRawStatus(raw)).toEqual({ status: 502, text: 'Bad Gateway', junction: true })
    expect(parseRawStatus('HTTP/1.1 594 ECONNREFUSED\r\nConnection: close\r\n\r\n')).toEqual({
      status: 594,
      text: 'ECONNREFUSED',
      junction: false
    })
    expect(parseRawStatus('garbage')).toBeNull()
  })
})
