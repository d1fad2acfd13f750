/**
 * "Copy as curl": an exchange's request as a command for a POSIX shell, the way browser developer
 * tools write it, to replay it outside Junction.
 *
 * Left out: hop-by-hop headers (they belonged to Junction's connection to the target), Host and
 * Content-Length (curl derives both from the URL and the body), and the Via that Junction itself added —
 * replayed through Junction, it would be refused as a loop (508). The body goes in only when it is text
 * and was kept whole: a cut or binary preview would send something else than the original.
 */
import type { Exchange } from '../engine/capture.ts'
import { headerValue, looksLikeText } from './body-view.ts'

const LEFT_OUT = new Set([
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
])
/** Junction's own Via entry (`1.1 junction-<six hex digits>`, see README "What the proxy does"). */
const JUNCTION_VIA = /^1\.1 junction-[0-9a-f]{6}$/

/** Quotes a word for a POSIX shell: plain words stay bare, anything else goes in single quotes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word
  // Inside single quotes nothing is special except the closing quote: end, add an escaped one, reopen.
  return `'${word.replaceAll("'", `'\\''`)}'`
}

export function curlCommand(exchange: Exchange): string {
  // One option with its value per line, as browsers' "Copy as cURL" writes it.
  const args: string[] = ['curl']
  if (exchange.method === 'HEAD') args.push('--head')
  else if (exchange.method !== 'GET') args.push(`-X ${shellQuote(exchange.method)}`)
  args.push(shellQuote(exchange.url))
  const raw = exchange.requestHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!
    const value = raw[i + 1]!
    if (LEFT_OUT.has(name.toLowerCase())) continue
    if (name.toLowerCase() === 'via' && JUNCTION_VIA.test(value)) continue
    args.push(`-H ${shellQuote(`${name}: ${value}`)}`)
  }
  // Without it, curl would print a compressed response to the terminal as it came.
  if (/\b(gzip|br|deflate)\b/i.test(headerValue(raw, 'accept-encoding') ?? '')) args.push('--compressed')
  const body = exchange.requestBody
  if (body.total > 0 && body.kept === body.total) {
    const bytes = Buffer.concat(body.chunks)
    // Text only: a shell word cannot carry a NUL byte, and bytes that are not UTF-8 would not survive
    // the clipboard.
    if (looksLikeText(bytes)) args.push(`--data-binary ${shellQuote(bytes.toString('utf8'))}`)
  }
  return args.join(' \\\n  ')
}
