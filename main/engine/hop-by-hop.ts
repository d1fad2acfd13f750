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
 * The lengths of the names above. This runs twice for every forwarded request (its headers, then its
 * response's), and most names (`Accept`, `User-Agent`, `Cookie` …) have none of these lengths: they
 * are kept without the lower-case copy a comparison would otherwise cost.
 */
const CANDIDATE_LENGTH = new Uint8Array(32)
for (const name of [...ALWAYS, ...FRAMING]) CANDIDATE_LENGTH[name.length] = 1

/**
 * Removes hop-by-hop headers from a Node `rawHeaders` array (name, value, name, value …) in place.
 * With `upgrade`, the `Upgrade` header stays and `Connection: Upgrade` is the only Connection
 * header, as the next hop needs them to switch protocols (RFC 9110 §7.8). With `dropHost`, `Host`
 * goes too (in the same pass), for a sender that adds the target's own.
 */
export function stripHopByHop(rawHeaders: string[], upgrade = false, dropHost = false): void {
  let named: Set<string> | null = null
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const lower = token.trim().toLowerCase()
      if (lower && !ALWAYS.has(lower) && !FRAMING.has(lower)) (named ??= new Set()).add(lower)
    }
  }
  let write = 0
  for (let read = 0; read < rawHeaders.length; read += 2) {
    const name = rawHeaders[read]!
    // A name the Connection header lists can have any length; only then is every name compared.
    if (named !== null || (name.length < 32 && CANDIDATE_LENGTH[name.length] === 1)) {
      const lower = name.toLowerCase()
      const hop = upgrade && lower === 'upgrade' ? false : ALWAYS.has(lower) || named?.has(lower) === true
      if (hop || (dropHost && lower === 'host')) continue
    }
    rawHeaders[write++] = name
    rawHeaders[write++] = rawHeaders[read + 1]!
  }
  rawHeaders.length = write
  if (upgrade) rawHeaders.push('Connection', 'Upgrade')
}
