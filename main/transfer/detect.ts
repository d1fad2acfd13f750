/**
 * Which tool wrote a file, from its content (the name only helps the message): SwitchyOmega and
 * FoxyProxy write JSON, Clash/mihomo YAML, Junction its own JSON. A file none of them would write is
 * refused with a message that says what Junction reads.
 */
import type { ImportFormat } from '../../common/ipc-contract.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { isBackup } from './backup.ts'
import { readClash } from './import-clash.ts'
import { isFoxyProxy, isOldFoxyProxy } from './import-foxyproxy.ts'
import { isSwitchyOmega } from './import-switchyomega.ts'

export interface Detected {
  format: ImportFormat
  doc: Record<string, unknown>
}

const READS =
  'Junction reads SwitchyOmega/ZeroOmega backups (.bak, JSON), FoxyProxy 8 exports (JSON), Clash/mihomo configurations (YAML) and Junction backups'

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Real configurations nest a few levels; the YAML parser takes time that grows much faster than the
 * text with each level of `[`/`{` (13 s for 1 MB of `[` on this machine), and the import runs on the
 * process that also carries the proxy's traffic. Brackets inside strings count too: a rough bound.
 */
const MAX_NESTING = 100

function nestingDepth(text: string): number {
  let depth = 0
  let max = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth)
    else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--
  }
  return max
}

export function detectFormat(text: string, fileName?: string): Result<Detected> {
  const named = fileName ? `"${fileName}"` : 'The text'
  // A UTF-8 byte-order mark is common in files saved on Windows and is not JSON.
  const body = text.replace(/^\uFEFF/, '')
  const json = parseJson(body)
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const doc = json as Record<string, unknown>
    if (isBackup(doc)) return ok({ format: 'junction', doc })
    if (isSwitchyOmega(doc)) return ok({ format: 'switchyomega', doc })
    if (isFoxyProxy(doc)) return ok({ format: 'foxyproxy', doc })
    if (isOldFoxyProxy(doc))
      return fail(
        'invalid-input',
        `${named} is a FoxyProxy 7 (or older) export; export again from FoxyProxy 8`
      )
  }
  if (nestingDepth(body) > MAX_NESTING)
    return fail(
      'invalid-input',
      `${named} nests brackets more than ${MAX_NESTING} levels deep; Junction does not read it`
    )
  // YAML is a superset of JSON: a Clash configuration written as JSON is read here too.
  const clash = readClash(body)
  if (clash) return ok({ format: 'clash', doc: clash })
  return fail('invalid-input', `${named} is not a format Junction can import. ${READS}.`)
}
