/**
 * The PAC file Junction serves at `/proxy.pac` on its own port, for the OS's "automatic proxy
 * configuration" mode. Junction applies the profile's rules itself, so the PAC sends everything to
 * Junction except the bypass list. Fail-open (the default) appends `DIRECT`, so browsers still reach
 * the web if Junction is gone; a profile may choose fail-closed, which omits it.
 */
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface PacOptions {
  host: string
  port: number
  profileName: string
  bypass: string[]
  failClosed: boolean
}

/** Bypass entries as PAC conditions: CIDR blocks, `*.domain` patterns and plain hosts. */
function bypassCondition(entry: string): string | null {
  const value = entry.trim()
  if (!value) return null
  if (value === '<local>') return 'isPlainHostName(host)'
  const cidr = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(value)
  if (cidr) {
    const bits = Number(cidr[2])
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
    const dotted = [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join('.')
    return `isInNet(host, ${JSON.stringify(cidr[1])}, ${JSON.stringify(dotted)})`
  }
  if (value.includes('*')) return `shExpMatch(host, ${JSON.stringify(value)})`
  return `host === ${JSON.stringify(value.toLowerCase())} || dnsDomainIs(host, ${JSON.stringify(`.${value.toLowerCase()}`)})`
}

export function buildPac(options: PacOptions): string {
  const proxy = `PROXY ${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`
  const route = options.failClosed ? proxy : `${proxy}; DIRECT`
  const conditions = options.bypass.map(bypassCondition).filter((c): c is string => c !== null)
  const lines = [
    `// Junction — profile ${JSON.stringify(options.profileName)}, ${options.failClosed ? 'fail-closed' : 'fail-open'}`,
    'function FindProxyForURL(url, host) {',
    ...conditions.map((c) => `  if (${c}) return "DIRECT";`),
    `  return ${JSON.stringify(route)};`,
    '}',
    ''
  ]
  return lines.join('\n')
}

export interface PacDocument {
  body: string
  etag: string
  lastModified: Date
}

/** Holds the current PAC; its ETag and Last-Modified change only when the content does. */
export class PacPublisher {
  private doc: PacDocument | null = null
  private readonly now: () => Date

  constructor(now: () => Date = () => new Date()) {
    this.now = now
  }

  update(options: PacOptions): PacDocument {
    const body = buildPac(options)
    if (this.doc?.body === body) return this.doc
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
    // HTTP dates have whole seconds; a finer time would never equal If-Modified-Since.
    const lastModified = new Date(Math.floor(this.now().getTime() / 1000) * 1000)
    this.doc = { body, etag, lastModified }
    return this.doc
  }

  get current(): PacDocument | null {
    return this.doc
  }
}

/**
 * Answers origin-form requests (`GET /proxy.pac`) that reach the proxy port. Returns false when the
 * request is not for the PAC, so the caller can answer it otherwise.
 */
export function servePac(req: IncomingMessage, res: ServerResponse, doc: PacDocument | null): boolean {
  const path = (req.url ?? '').split('?')[0]
  if (path !== '/proxy.pac' || doc === null) return false
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('Use GET.\n')
    return true
  }
  const headers = {
    'Content-Type': 'application/x-ns-proxy-autoconfig',
    ETag: doc.etag,
    'Last-Modified': doc.lastModified.toUTCString(),
    'Cache-Control': 'no-cache'
  }
  const inm = req.headers['if-none-match']
  const ims = req.headers['if-modified-since']
  const notModified =
    inm !== undefined
      ? inm.split(',').some((tag) => tag.trim() === doc.etag || tag.trim() === '*')
      : ims !== undefined && !Number.isNaN(Date.parse(ims)) && Date.parse(ims) >= doc.lastModified.getTime()
  if (notModified) {
    res.writeHead(304, headers).end()
    return true
  }
  res.writeHead(200, { ...headers, 'Content-Length': Buffer.byteLength(doc.body) })
  res.end(req.method === 'HEAD' ? undefined : doc.body)
  return true
}
