/**
 * Hop-by-hop header removal for requests Junction forwards (RFC 9110 §7.6.1): the fixed list below,
 * `Proxy-Connection` (a pre-standard header still sent by some clients, see RFC 9110 §7.6.1 note), and
 * every header the client named in its `Connection` header. proxy-chain removes only a fixed list and
 * forwards `Proxy-Connection` and Connection-named headers to the target.
 */
const ALWAYS = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
])

/**
 * Removes hop-by-hop headers from a Node `rawHeaders` array in place (name, value, name, value …).
 * In place because proxy-chain reads `request.rawHeaders` itself after Junction's hook returns.
 */
export function stripHopByHop(rawHeaders: string[]): void {
  let named: Set<string> | null = null
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const name = token.trim().toLowerCase()
      if (name && !ALWAYS.has(name)) (named ??= new Set()).add(name)
    }
  }
  let write = 0
  for (let read = 0; read < rawHeaders.length; read += 2) {
    const name = rawHeaders[read]!.toLowerCase()
    if (ALWAYS.has(name) || named?.has(name)) continue
    rawHeaders[write++] = rawHeaders[read]!
    rawHeaders[write++] = rawHeaders[read + 1]!
  }
  rawHeaders.length = write
}
