/**
 * Turns a body preview (the first bytes the engine kept) into something a person can read: undoes
 * gzip/br/deflate, then shows text as text, JSON pretty-printed and anything else as a hex dump.
 *
 * A preview is often a cut stream: only its first 64 KiB were kept. zlib is asked to flush what it has
 * at the end of the input instead of failing on it, so a cut gzip body still shows its first part.
 * Decoded output is capped too: 64 KiB of gzip can expand a thousandfold.
 */
import zlib from 'node:zlib'
import type { BodyView, HeaderPair } from '../../common/ipc-contract.ts'
import type { BodyPreview } from '../engine/capture.ts'

/** At most this much decoded text is shown; beyond it, the view says it was cut. */
export const DECODED_LIMIT = 1024 * 1024
/** A binary body is shown as hex up to this many bytes. */
const HEX_LIMIT = 4096

const DECODERS: Record<string, () => zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress> = {
  gzip: () => zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  'x-gzip': () => zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  deflate: () => zlib.createInflate({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  br: () => zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH })
}

/** Header pairs from Node's flat raw list (`[name, value, name, value, …]`). */
export function headerPairs(raw: string[]): HeaderPair[] {
  const pairs: HeaderPair[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push({ name: raw[i]!, value: raw[i + 1]! })
  return pairs
}

/** Every value of a header, case-insensitive, joined as HTTP would (`, `); null when absent. */
export function headerValue(raw: string[] | null, name: string): string | null {
  if (!raw) return null
  const lower = name.toLowerCase()
  const values: string[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === lower) values.push(raw[i + 1]!)
  return values.length > 0 ? values.join(', ') : null
}

/** Runs one decoder over `input`, keeping at most `limit` bytes of output. */
function inflate(
  make: () => zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress,
  input: Buffer,
  limit: number
) {
  return new Promise<{ output: Buffer; capped: boolean }>((resolve, reject) => {
    const stream = make()
    const parts: Buffer[] = []
    let size = 0
    stream.on('data', (chunk: Buffer) => {
      parts.push(chunk)
      size += chunk.length
      if (size > limit) {
        stream.destroy()
        resolve({ output: Buffer.concat(parts).subarray(0, limit), capped: true })
      }
    })
    stream.on('error', reject)
    stream.on('end', () => resolve({ output: Buffer.concat(parts), capped: false }))
    stream.end(input)
  })
}

/** Undoes one content coding. HTTP's "deflate" should be zlib-wrapped, but some servers send it raw. */
async function decodeOne(coding: string, input: Buffer, limit: number) {
  try {
    return await inflate(DECODERS[coding]!, input, limit)
  } catch (error) {
    if (coding !== 'deflate') throw error
    return inflate(() => zlib.createInflateRaw({ finishFlush: zlib.constants.Z_SYNC_FLUSH }), input, limit)
  }
}

const TEXT_TYPE =
  /^(text\/|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded|graphql|yaml|x-yaml|x-ndjson)\b)|\+(json|xml)\b/i
const JSON_TYPE = /^application\/(json|x-ndjson)\b|\+json\b/i

/** Text in the charset the Content-Type names (utf-8 when it names none, or one Node does not know). */
function decodeText(bytes: Buffer, contentType: string | null): string {
  const charset = /;\s*charset="?([^";\s]+)/i.exec(contentType ?? '')?.[1]
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes)
  } catch {
    return new TextDecoder('utf-8').decode(bytes)
  }
}

/**
 * Undeclared text: valid UTF-8 (a character cut at the end of a preview is allowed) without control
 * characters other than tab, newline, carriage return and form feed.
 */
export function looksLikeText(bytes: Buffer): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(bytes.toString('latin1'))) return false
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true })
    return true
  } catch {
    return false
  }
}

/** `00000010  48 65 6c 6c 6f …  |Hello…|`, 16 bytes a line, as `hexdump -C` prints it. */
function hexDump(bytes: Buffer): string {
  const lines: string[] = []
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16)
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'))
    const left = hex.slice(0, 8).join(' ')
    const right = hex.slice(8).join(' ')
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`)
  }
  return lines.join('\n')
}

const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`

/** Renders one body preview, given the headers of its message. */
export async function renderBody(preview: BodyPreview, headers: string[] | null): Promise<BodyView> {
  const contentType = headerValue(headers, 'content-type')
  const truncated = preview.kept < preview.total
  const base = {
    contentType,
    totalBytes: preview.total,
    previewBytes: preview.kept,
    truncated
  }
  if (preview.total === 0) return { ...base, kind: 'empty', text: '', decodedFrom: null, note: null }

  const notes: string[] = []
  if (truncated)
    notes.push(
      `Only the first ${kib(preview.kept)} of ${preview.total} bytes were kept; the rest is not shown.`
    )
  let bytes: Buffer = Buffer.concat(preview.chunks)
  let decodedFrom: string | null = null
  const codings = (headerValue(headers, 'content-encoding') ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity')
  if (codings.length > 0) {
    const unknown = codings.find((c) => !(c in DECODERS))
    if (unknown) notes.push(`Encoded with "${unknown}", which Junction does not decode; shown as received.`)
    else {
      try {
        // Codings are listed in the order they were applied (RFC 9110 §8.4): undo the last first.
        let capped = false
        for (const coding of [...codings].reverse()) {
          const decoded = await decodeOne(coding, bytes, DECODED_LIMIT)
          bytes = decoded.output
          capped ||= decoded.capped
        }
        decodedFrom = codings.join(', ')
        if (truncated) notes.push(`The ${decodedFrom} stream was cut there; shown is what it decodes to.`)
        if (capped) notes.push(`Decoded text cut at ${kib(DECODED_LIMIT)}.`)
      } catch (error) {
        notes.push(`Could not decode ${codings.join(', ')}: ${(error as Error).message}; shown as received.`)
      }
    }
  }

  const declaredText = contentType !== null && TEXT_TYPE.test(contentType)
  const codedLeft = codings.length > 0 && decodedFrom === null
  if (!codedLeft && (declaredText || looksLikeText(bytes))) {
    const text = decodeText(bytes, contentType)
    if (contentType !== null && JSON_TYPE.test(contentType)) {
      try {
        const pretty = JSON.stringify(JSON.parse(text), null, 2)
        return { ...base, kind: 'json', text: pretty, decodedFrom, note: notes.join(' ') || null }
      } catch {
        notes.push(truncated ? 'Not complete JSON (cut); shown as text.' : 'Not valid JSON; shown as text.')
      }
    }
    return { ...base, kind: 'text', text, decodedFrom, note: notes.join(' ') || null }
  }
  if (bytes.length > HEX_LIMIT) notes.push(`Binary: the first ${kib(HEX_LIMIT)} as hex.`)
  return {
    ...base,
    kind: 'binary',
    text: hexDump(bytes.subarray(0, HEX_LIMIT)),
    decodedFrom,
    note: notes.join(' ') || null
  }
}
