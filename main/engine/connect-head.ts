/**
 * CONNECT heads read without Node's HTTP server.
 *
 * Why: a tunnel's head is one request line and a few headers, and the HTTP server's machinery for it
 * (a parser taken and given back, the connection's listeners and timers added and removed again, an
 * IncomingMessage stream) cost an eighth of the CPU a short tunnel takes (BENCHMARKS.md, "CONNECT
 * heads without the HTTP server"). first-read.ts reads the common case here: a whole head in
 * the connection's first read, in the plainest form HTTP allows. Anything else — a head split over
 * reads, a folded or repeated header, a byte outside printable ASCII, a body length, a target in
 * another form — is left to Node's parser, so every refusal keeps its specific answer (bad-requests.ts).
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'

/**
 * What the engine reads of a request that becomes a tunnel: Node's IncomingMessage (CONNECT or
 * Upgrade), or a CONNECT head read by parseConnectHead.
 */
export type TunnelRequest = Pick<
  IncomingMessage,
  'method' | 'url' | 'headers' | 'httpVersion' | 'httpVersionMajor' | 'socket'
>

/** A head read here is this long at most; a longer one (large cookies, say) is Node's to read. */
const MAX_HEAD_BYTES = 8 * 1024

/** Authority-form targets (`host:port`, `[v6]:port`) in plain characters; accept.ts validates them. */
const REQUEST_LINE = /CONNECT ([\w.~:%[\]-]+) HTTP\/1\.([01])/y
/**
 * `name: value` on a line of its own: a token, a colon, optional white space, the value in printable
 * ASCII and tabs. The value starts with a visible character so that the two parts cannot trade
 * spaces (no backtracking).
 */
const FIELD = /\r\n([!#$%&'*+.^`|~\w-]+):[\t ]*((?:[\x21-\x7e][\t\x20-\x7e]*)?)/y
/** Headers that frame a body: how a CONNECT with one is read is the parser's call (smuggling). */
const FRAMING = new Set(['content-length', 'transfer-encoding'])
/** What follows most heads: nothing (the client waits for the answer before it speaks). */
const NOTHING = Buffer.alloc(0)

/**
 * The CONNECT request whose whole head is `chunk`'s start, as Node's parser would give it, and what
 * followed the head (the tunnel's first bytes); null for anything Node's parser must see.
 */
export function parseConnectHead(
  chunk: Buffer,
  socket: Socket
): { request: TunnelRequest; rest: Buffer } | null {
  const text = chunk.toString('latin1', 0, Math.min(chunk.length, MAX_HEAD_BYTES))
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) return null
  REQUEST_LINE.lastIndex = 0
  const line = REQUEST_LINE.exec(text)
  if (!line) return null
  // A plain object, as Node's: one without a prototype is a hash table, and its stores cost 10× more here.
  const headers: IncomingMessage['headers'] = {}
  let at = REQUEST_LINE.lastIndex
  while (at < end) {
    FIELD.lastIndex = at
    const field = FIELD.exec(text)
    if (!field) return null
    at = FIELD.lastIndex
    const name = field[1]!.toLowerCase()
    // Node joins some repeated headers and keeps the first of others: left to it. So is a name that an
    // object has already (`__proto__`, `constructor`), which would not be stored as a header here.
    if (name in headers || FRAMING.has(name)) return null
    // Trailing white space is not part of the value; the value holds no other kind.
    headers[name] = field[2]!.trimEnd()
  }
  // A field runs up to the next CR at most, so `at` is the head's end unless the request line ran on.
  if (at !== end) return null
  return {
    request: {
      method: 'CONNECT',
      url: line[1]!,
      headers,
      httpVersion: line[2] === '1' ? '1.1' : '1.0',
      httpVersionMajor: 1,
      socket
    },
    rest: end + 4 === chunk.length ? NOTHING : chunk.subarray(end + 4)
  }
}
