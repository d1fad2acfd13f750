/**
 * Failures a user can read. proxy-chain reports trouble with its own status codes (590–599, see
 * node_modules/proxy-chain/dist/statuses.js) and a bare status text. Browsers show those as odd
 * numbers with no explanation, so Junction answers with 502 or 504, a one-line text body saying what
 * failed and why, and an `X-Junction-Error` header whose value is a stable code for scripts and tests.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

export type JunctionErrorCode =
  | 'blocked'
  | 'dns-failed'
  | 'target-refused'
  | 'target-reset'
  | 'target-timeout'
  | 'upstream-refused'
  | 'upstream-reset'
  | 'upstream-timeout'
  | 'upstream-auth-failed'
  | 'upstream-rejected'
  | 'upstream-bad-response'
  | 'upstream-error'
  | 'target-error'
  | 'idle-timeout'
  | 'loop-detected'
  | 'bad-request'
  | 'not-a-proxy-request'
  | 'proxy-auth-required'
  | 'target-certificate-invalid'
  | 'upstream-certificate-invalid'
  | 'body-not-edited'
  | 'response-headers-too-large'

export const ERROR_HEADER = 'X-Junction-Error'

export interface ErrorReply {
  status: number
  code: JunctionErrorCode
  message: string
}

/**
 * An error Junction raises itself when a wait runs out, a connection would loop, or a target switches
 * protocols for a request that asked for no upgrade.
 */
export class Refused extends Error {
  readonly reason: 'connect' | 'unanswered' | 'response headers' | 'idle' | 'loop' | 'upgrade'

  constructor(reason: Refused['reason']) {
    super(reason)
    this.reason = reason
  }
}

/** Where a failed request was going: the upstream's description, or null when it went direct. */
export interface FailureContext {
  upstream: string | null
  target: string
  /** For failures proxy-chain reports without a cause: finds the cause, as a status text. */
  diagnose?: () => Promise<string>
}

/** Maps a proxy-chain failure status (and the status text it chose) to Junction's reply. */
export function replyForProxyChainStatus(
  status: number,
  statusText: string,
  ctx: FailureContext
): ErrorReply | null {
  const via = ctx.upstream
  const hop = via ?? ctx.target
  const answered = /^UPSTREAM(\d{3})$/.exec(statusText)
  const detail = answered ? `: it answered ${answered[1]}` : ''
  switch (status) {
    case 593:
      return dnsReply(ctx, via)
    case 404:
      // proxy-chain turns a direct DNS failure into a bare 404; callers pass it here only in that case.
      return dnsReply(ctx, null)
    case 594:
      return via
        ? reply(502, 'upstream-refused', `${via} refused the connection.`)
        : reply(502, 'target-refused', `${ctx.target} refused the connection.`)
    case 595:
    case 596:
      return via
        ? reply(502, 'upstream-reset', `The connection to ${via} was reset.`)
        : reply(502, 'target-reset', `The connection to ${ctx.target} was reset.`)
    case 504:
      return via
        ? reply(504, 'upstream-timeout', `${via} did not answer in time.`)
        : reply(504, 'target-timeout', `${ctx.target} did not answer in time.`)
    case 597:
      return reply(502, 'upstream-auth-failed', `${hop} rejected Junction's username or password.`)
    case 590:
      return reply(502, 'upstream-rejected', `${hop} refused to open a tunnel to ${ctx.target}${detail}.`)
    case 592:
      return reply(502, 'upstream-bad-response', `${hop} sent an invalid response status.`)
    case 599:
      return socksOrGenericReply(statusText, ctx)
    default:
      return null
  }
}

function dnsReply(ctx: FailureContext, via: string | null): ErrorReply {
  const host = ctx.target.replace(/:\d+$/, '')
  return via
    ? reply(502, 'dns-failed', `${via} could not resolve ${host}.`)
    : reply(502, 'dns-failed', `The host name ${host} could not be resolved (DNS lookup failed).`)
}

/** SOCKS failures arrive as 599 with the SOCKS library's message as the status text. */
function socksOrGenericReply(statusText: string, ctx: FailureContext): ErrorReply {
  const via = ctx.upstream ?? 'the upstream proxy'
  if (/ECONNREFUSED/.test(statusText)) return reply(502, 'upstream-refused', `${via} refused the connection.`)
  if (/authentication failed/i.test(statusText))
    return reply(502, 'upstream-auth-failed', `${via} rejected Junction's username or password.`)
  if (/ECONNRESET|socket closed/i.test(statusText))
    return reply(502, 'upstream-reset', `The connection to ${via} was reset.`)
  if (/timed out/i.test(statusText)) return reply(504, 'upstream-timeout', `${via} did not answer in time.`)
  const why = statusText && statusText !== 'Upstream Error' ? `: ${statusText}` : ''
  return ctx.upstream
    ? reply(502, 'upstream-error', `${via} failed${why}.`)
    : reply(502, 'target-error', `Connecting to ${ctx.target} failed${why}.`)
}

/** Errors from Junction's own direct tunnels, by Node's errno code. */
export function replyForSocketError(error: NodeJS.ErrnoException, ctx: FailureContext): ErrorReply {
  switch (error.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return dnsReply(ctx, null)
    case 'ECONNREFUSED':
      return replyForProxyChainStatus(594, '', ctx)!
    case 'ECONNRESET':
    case 'EPIPE':
      return replyForProxyChainStatus(595, '', ctx)!
    case 'ETIMEDOUT':
      return replyForProxyChainStatus(504, '', ctx)!
    default:
      return reply(502, 'target-error', `Connecting to ${ctx.target} failed: ${error.code ?? error.message}.`)
  }
}

/** A response whose head is larger than Junction relays (Node's parser stops at `limit` bytes). */
export function replyForOversizedHead(ctx: FailureContext, limit: number): ErrorReply {
  return reply(
    502,
    'response-headers-too-large',
    `${ctx.target} sent response headers larger than ${limit / 1024} KiB${ctx.upstream ? ` (through ${ctx.upstream})` : ''}.`
  )
}

function reply(status: number, code: JunctionErrorCode, message: string): ErrorReply {
  return { status, code, message }
}

/** A complete raw HTTP/1.1 response that closes the connection; used on sockets before a tunnel opens. */
export function rawErrorResponse(
  reply: ErrorReply,
  extraHeaders: Record<string, string> = {},
  newline = true
): string {
  // A rule's block text is sent exactly as written; Junction's own messages end in a newline.
  const body = newline ? `${reply.message}\n` : reply.message
  const headers: Record<string, string> = {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    [ERROR_HEADER]: reply.code,
    ...extraHeaders
  }
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  return `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}\r\n${head}\r\n${body}`
}

/** Reads the status line of a raw response proxy-chain is about to write, e.g. `HTTP/1.1 594 ECONNREFUSED`. */
export function parseRawStatus(raw: string): { status: number; text: string; junction: boolean } | null {
  const m = /^HTTP\/1\.[01] (\d{3}) ?([^\r\n]*)\r\n/.exec(raw)
  if (!m) return null
  return { status: Number(m[1]), text: m[2] ?? '', junction: /\r\nx-junction-error:/i.test(raw) }
}

/**
 * Answers with a text body and `X-Junction-Error`. The headers are set one by one (not passed to
 * writeHead) so that the response still reports its error code to statistics when it closes.
 */
export function writeTextReply(
  res: ServerResponse,
  reply: ErrorReply,
  extraHeaders: Record<string, string> = {},
  newline = true
): void {
  if (res.headersSent || res.destroyed) return
  const body = newline ? `${reply.message}\n` : reply.message
  res.setHeader('Content-Type', 'text/plain; charset=utf-8')
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.setHeader(ERROR_HEADER, reply.code)
  for (const [name, value] of Object.entries(extraHeaders)) res.setHeader(name, value)
  res.writeHead(reply.status)
  res.end(body)
}

/**
 * Ends a raw socket with `text` and destroys it a second later if the client has not closed its side:
 * the server keeps half-open connections, so a client that never sends FIN would otherwise hold it.
 */
export function endRaw(socket: Socket, text: string): void {
  if (!socket.writable) return void socket.destroy()
  socket.end(text)
  socket.setTimeout(1000, () => socket.destroy())
}

/** Why Node refused a target's certificate, in words, by OpenSSL's verification code. */
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'it was issued for other names',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'it was issued by an unknown authority (a self-signed certificate in its chain)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it was issued by an unknown authority',
  UNABLE_TO_GET_ISSUER_CERT: 'it was issued by an unknown authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it was issued by an unknown authority',
  CERT_REVOKED: 'it has been revoked',
  CERT_SIGNATURE_FAILURE: 'its signature is invalid'
}

export function isCertificateError(code: string): boolean {
  return code in CERTIFICATE_PROBLEMS
}

/**
 * An intercepted target whose certificate a browser would refuse: the client is told why, in the
 * response it gets over the intercepted TLS, and nothing is forwarded.
 */
export function replyForCertificateError(error: NodeJS.ErrnoException, ctx: FailureContext): ErrorReply {
  const why = CERTIFICATE_PROBLEMS[error.code!] ?? error.code
  const detail = error.code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? ` (${error.message})` : ''
  return {
    status: 502,
    code: 'target-certificate-invalid',
    message: `The certificate of ${ctx.target} is not valid: ${why}${detail}. Junction did not send the request.`
  }
}

/**
 * An HTTPS upstream proxy whose certificate Junction refuses: its TLS handshake failed, so nothing was
 * sent through it. (Add the CA that issued it to the upstream, or fix the upstream's address.)
 */
export function replyForUpstreamCertificate(error: NodeJS.ErrnoException, ctx: FailureContext): ErrorReply {
  const why = CERTIFICATE_PROBLEMS[error.code!] ?? error.code
  return {
    status: 502,
    code: 'upstream-certificate-invalid',
    message: `The certificate of ${ctx.upstream} is not valid: ${why}. Junction did not send the request.`
  }
}
