/**
 * Hop-by-hop header removal for messages Junction forwards (RFC 9110 §7.6.1): the fixed list below,
 * `Proxy-Connection` (a pre-standard header some clients still send) and every header the sender named
 * in its `Connection` header. `Trailer` is end-to-end (RFC 9110 §6.6.2) and is kept, so trailers pass.
 */
const ALWAYS = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'transfer-encoding',
  'upgrade'
])

/**
 * Never removed because `Connection` names them: they frame the message and say where it goes, so a
 * client naming them could make the next hop read a body as another request.
 */
const FRAMING = new Set(['content-length', 'host'])

/**
 * Removes hop-by-hop headers from a Node `rawHeaders` array (name, value, name, value …) in place.
 * With `upgrade`, the `Upgrade` header stays and `Connection: Upgrade` is the only Connection
 * header, as the next hop needs them to switch protocols (RFC 9110 §7.8).
 */
export function stripHopByHop(rawHeaders: string[], upgrade = false): void {
  let named: Set<string> | null = null
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const name = token.trim().toLowerCase()
      if (name && !ALWAYS.has(name) && !FRAMING.has(name)) (named ??= new Set()).add(name)
    }
  }
  let write = 0
  for (let read = 0; read < rawHeaders.length; read += 2) {
    const name = rawHeaders[read]!.toLowerCase()
    if (!(upgrade && name === 'upgrade') && (ALWAYS.has(name) || named?.has(name))) continue
    rawHeaders[write++] = rawHeaders[read]!
    rawHeaders[write++] = rawHeaders[read + 1]!
  }
  rawHeaders.length = write
  if (upgrade) rawHeaders.push('Connection', 'Upgrade')
}
