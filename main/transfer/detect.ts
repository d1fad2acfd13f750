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
  // YAML is a superset of JSON: a Clash configuration written as JSON is read here too.
  const clash = readClash(body)
  if (clash) return ok({ format: 'clash', doc: clash })
  return fail('invalid-input', `${named} is not a format Junction can import. ${READS}.`)
}
