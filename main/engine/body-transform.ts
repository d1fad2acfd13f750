/**
 * Response body edits (a rule's `rewrite.responseBody`): the body is collected up to a limit,
 * decompressed (gzip, deflate, br) with the same limit on its decoded size, edited as UTF-8 text,
 * compressed again the same way and sent with its new `Content-Length`. Memory stays within the limit
 * per response: a body larger than it, compressed or not, passes unchanged, as do bodies that are not
 * text and encodings Junction cannot decode.
 */
import type { IncomingMessage } from 'node:http'
import zlib from 'node:zlib'
import type { TextEdit } from '../rules/body-edits.ts'

/** Bodies up to this size (before and after decompression) are edited; larger ones pass unchanged. */
export const BODY_EDIT_LIMIT = 8 * 1024 * 1024

const TEXT =
  /^(text\/|application\/(json|javascript|ecmascript|xml|xhtml\+xml|x-www-form-urlencoded)|[^;]*\+(json|xml))/i

/** Whether a response of this type is text that edits may apply to. */
export function isEditableText(contentType: string | undefined): boolean {
  return contentType !== undefined && TEXT.test(contentType.trim())
}

export type Collected = { complete: true; body: Buffer } | { complete: false; buffered: Buffer[] }

/**
 * Reads `incoming` to its end, or until it passes `limit` bytes: then it is paused with what was read
 * so far, for the caller to send on and pipe the rest.
 */
export function collect(incoming: IncomingMessage, limit: number): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size <= limit) return
      incoming.pause()
      incoming.removeListener('data', onData)
      incoming.removeListener('end', onEnd)
      resolve({ complete: false, buffered: chunks })
    }
    const onEnd = (): void => resolve({ complete: true, body: Buffer.concat(chunks, size) })
    incoming.on('data', onData)
    incoming.once('end', onEnd)
    incoming.once('error', reject)
  })
}

/**
 * The edited body in the response's own encoding, or null when it stays as it was (unchanged by the
 * edits, an encoding Junction does not decode, or larger than the limit once decoded).
 */
export function editBody(
  body: Buffer,
  encoding: string | undefined,
  edit: TextEdit,
  limit: number
): Buffer | null {
  const coding = (encoding ?? 'identity').trim().toLowerCase()
  const options = { maxOutputLength: limit }
  let decoded: Buffer
  try {
    if (coding === 'identity') decoded = body
    else if (coding === 'gzip' || coding === 'x-gzip') decoded = zlib.gunzipSync(body, options)
    else if (coding === 'deflate') decoded = zlib.inflateSync(body, options)
    else if (coding === 'br') decoded = zlib.brotliDecompressSync(body, options)
    else return null
  } catch {
    return null
  }
  const text = decoded.toString('utf8')
  const edited = edit(text)
  if (edited === text) return null
  const bytes = Buffer.from(edited, 'utf8')
  if (coding === 'identity') return bytes
  if (coding === 'br') return zlib.brotliCompressSync(bytes)
  return coding === 'deflate' ? zlib.deflateSync(bytes) : zlib.gzipSync(bytes)
}
