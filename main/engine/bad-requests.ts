/**
 * What Junction tells a client whose request it will not take, in words: the reply body names what
 * was wrong, so a person reading curl's output or a browser's error page can fix the request. Node's
 * parser (llhttp, strict mode) already refuses malformed heads and ambiguous body framing (request
 * smuggling); the codes it reports are turned into sentences here.
 */
import type { IncomingMessage } from 'node:http'
import type { ErrorReply } from './errors.ts'

/** Node counts at most this many header fields per request (measured on Node 24), then overflows. */
const MAX_HEADER_FIELDS = 1000

/** A TLS record starts with 0x16 (handshake) and version 3.x. */
function looksLikeTls(packet: Buffer | undefined): boolean {
  return packet !== undefined && packet.length >= 2 && packet[0] === 0x16 && packet[1] === 0x03
}

const PARSE_PROBLEMS: Record<string, string> = {
  HPE_INVALID_METHOD: 'The request method is not valid (an upper-case token such as GET or CONNECT).',
  HPE_INVALID_URL: 'The request target contains characters a URL cannot hold.',
  HPE_INVALID_CONSTANT:
    'The request line is malformed: it must be the method, one space, the target, one space, and HTTP/1.1.',
  HPE_INVALID_VERSION: 'The request line must end with HTTP/1.0 or HTTP/1.1 and CR LF.',
  HPE_INVALID_HEADER_TOKEN:
    'A header line is malformed (a character not allowed in its name or value, a space before the colon, or a folded line).',
  HPE_UNEXPECTED_SPACE: 'The request has a space where none is allowed.',
  HPE_STRICT: 'Lines must end with CR LF; a bare CR or LF was found.',
  HPE_CR_EXPECTED: 'Lines must end with CR LF; a bare LF was found.',
  HPE_LF_EXPECTED: 'Lines must end with CR LF; a bare CR was found.',
  HPE_INVALID_CONTENT_LENGTH:
    'Content-Length must be one decimal number and cannot be sent with Transfer-Encoding; the body length is ambiguous, so the request was refused.',
  HPE_UNEXPECTED_CONTENT_LENGTH:
    'The request has more than one Content-Length, or Content-Length with Transfer-Encoding; the body length is ambiguous, so the request was refused.',
  HPE_INVALID_TRANSFER_ENCODING:
    'Transfer-Encoding must be sent once, end with chunked, and not come with Content-Length; the body length is ambiguous, so the request was refused.',
  HPE_INVALID_CHUNK_SIZE: 'A chunk size in the request body is not a hexadecimal number.',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'The chunk extensions in the request body are too large.',
  HPE_PAUSED_H2_UPGRADE:
    'HTTP/2 with prior knowledge is not supported on this port; Junction speaks HTTP/1.1 to its clients.'
}

/** The reply to a request Node's parser refused (server 'clientError'). */
export function replyForParseError(error: NodeJS.ErrnoException & { rawPacket?: Buffer }): ErrorReply {
  const code = error.code ?? error.message
  if (code === 'HPE_HEADER_OVERFLOW')
    return {
      status: 431,
      code: 'bad-request',
      message: `The request head is too large: over 64 KiB, or more than ${MAX_HEADER_FIELDS} header fields.`
    }
  if (code === 'HPE_INVALID_METHOD' && looksLikeTls(error.rawPacket))
    return {
      status: 400,
      code: 'bad-request',
      message:
        "A TLS handshake arrived on Junction's plain-HTTP port: set Junction up as an http:// proxy (HTTPS sites go through it with CONNECT)."
    }
  const problem = PARSE_PROBLEMS[code] ?? 'Junction could not parse the request.'
  return { status: 400, code: 'bad-request', message: `${problem} (${code})` }
}

export const NO_VERSION: ErrorReply = {
  status: 400,
  code: 'bad-request',
  message: 'The request line has no HTTP version (HTTP/0.9 is not supported); send HTTP/1.1.'
}

/**
 * Junction speaks HTTP/1.0 and 1.1 to clients. Node's parser also takes a request line without a
 * version (HTTP/0.9, which has no headers or status line to answer with) and `HTTP/2.0` in HTTP/1
 * syntax; both are refused. Null when the version is fine.
 */
export function versionProblem(
  req: Pick<IncomingMessage, 'httpVersion' | 'httpVersionMajor'>
): ErrorReply | null {
  if (req.httpVersionMajor === 1) return null
  return req.httpVersionMajor === 0
    ? NO_VERSION
    : {
        status: 505,
        code: 'bad-request',
        message: `HTTP/${req.httpVersion} is not supported in this syntax; send HTTP/1.1.`
      }
}

/** RFC 9112 §3.2: an HTTP/1.1 request without Host is refused (Node's own refusal has no body). */
export function missingHost(req: IncomingMessage): ErrorReply | null {
  if (req.httpVersionMinor !== 1 || req.headers.host !== undefined) return null
  return {
    status: 400,
    code: 'bad-request',
    message: 'An HTTP/1.1 request must carry a Host header (RFC 9112, section 3.2).'
  }
}

/**
 * Node's parser takes `Transfer-Encoding: gzip, chunked` and removes only the chunking, so the
 * gzip coding would be lost on the way; RFC 9112 §6.1 answers 501 to a coding the server does not
 * implement. Null for no Transfer-Encoding or plain `chunked`.
 */
export function unsupportedTransferCoding(req: IncomingMessage): ErrorReply | null {
  const coding = req.headers['transfer-encoding']
  if (coding === undefined || coding.trim().toLowerCase() === 'chunked') return null
  return {
    status: 501,
    code: 'bad-request',
    message: `Transfer-Encoding "${coding.slice(0, 100)}" is not supported; send the body chunked or with a Content-Length.`
  }
}

/** Why an absolute-form target cannot be forwarded. */
export function badHttpTarget(url: string | undefined): ErrorReply {
  const shown = (url ?? '').slice(0, 200)
  return /^https:/i.test(shown)
    ? {
        status: 400,
        code: 'bad-request',
        message: `Send https:// requests as CONNECT tunnels, not as "${shown}".`
      }
    : {
        status: 400,
        code: 'bad-request',
        message: `The request target "${shown}" is not a valid http:// URL with a port from 1 to 65535.`
      }
}

/** Why a CONNECT target is not the `host:port` that RFC 9110 §9.3.6 asks for. */
export function badConnectTarget(url: string | undefined): ErrorReply {
  const target = url ?? ''
  return {
    status: 400,
    code: 'bad-request',
    message: `The CONNECT target "${target.slice(0, 200)}" is not host:port: ${connectTargetFlaw(target)}.`
  }
}

function connectTargetFlaw(target: string): string {
  if (!target) return 'it is empty'
  if (/[/?#]/.test(target)) return 'it has a scheme or path, and a tunnel has neither'
  if (target.includes('@')) return 'it carries credentials; send them in Proxy-Authorization'
  if (!target.startsWith('[') && target.indexOf(':') !== target.lastIndexOf(':'))
    return 'an IPv6 address must be in brackets, as in [::1]:443'
  const port = /:(\d+)$/.exec(target)?.[1]
  if (port === undefined) return 'it has no port'
  if (Number(port) < 1 || Number(port) > 65535) return `port ${port} is outside 1-65535`
  return 'the host name is not valid'
}
