/**
 * The headless dashboard: the built UI over HTTP and the UI contract over a WebSocket, on 127.0.0.1
 * and a port of its own. It carries the same calls as Electron IPC, through the same `dispatch`.
 *
 * Access needs a random token, printed at start inside the dashboard URL. The first page load trades
 * it for a cookie (HttpOnly, SameSite=Strict) so that assets and the WebSocket need no token in their
 * URLs; anything without the token or the cookie gets 401, as a small page that says how to get in.
 * The WebSocket also checks `Origin`, so a web page elsewhere cannot drive Junction through the user's
 * browser. The token is kept in the data directory (dashboard-token.ts), so the cookie outlives a
 * restart; rotating it (from Settings) drops every other open dashboard at once.
 */
import { timingSafeEqual } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import path from 'node:path'
import { WebSocketServer, type WebSocket } from 'ws'
import type { AppApi, AppEvents, ApiEvent } from '../../common/ipc-contract.ts'
import { ok } from '../../common/result.ts'
import { dispatch } from '../services/dispatch.ts'
import { newToken } from './dashboard-token.ts'
import { NO_ACCESS_PAGE } from './no-access-page.ts'

export const API_PATH = '/api'
const COOKIE = 'junction_dashboard'
/** Calls larger than this are refused: the largest legitimate one is an imported configuration. */
const MAX_MESSAGE_BYTES = 21 * 1024 * 1024

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2'
}

export interface DashboardOptions {
  api: AppApi
  /** Folder with the built renderer (index.html and assets). */
  staticDir: string
  port?: number
  token?: string
  /** Makes and keeps a new token (the data directory's dashboard.json); without it a rotation lasts this run. */
  rotateToken?: () => Promise<string>
}

export interface Dashboard {
  /** The address to open, with the token (changes when the token is rotated). */
  readonly url: string
  port: number
  readonly token: string
  /** Sends an event to every connected dashboard. */
  broadcast<K extends ApiEvent>(event: K, payload: AppEvents[K]): void
  close(): Promise<void>
}

function sameSecret(given: string | null | undefined, expected: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

function cookieToken(req: IncomingMessage): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=')
    if (name === COOKIE) return value.join('=')
  }
  return null
}

function denyAccess(res: ServerResponse): void {
  res
    .writeHead(401, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
    .end(NO_ACCESS_PAGE)
}

function deny(res: ServerResponse, status: number, text: string): void {
  res
    .writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' })
    .end(`${text}\n`)
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  let token = options.token ?? newToken()
  const root = path.resolve(options.staticDir)
  let origin = ''

  const server: Server = createServer((req, res) => void serveFile(req, res))
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES })

  async function serveFile(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin)
    const fromQuery = url.searchParams.get('token')
    const authorized = sameSecret(fromQuery, token) || sameSecret(cookieToken(req), token)
    if (!authorized) return denyAccess(res)
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'Method not allowed')
    const relative = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname)
    const file = path.resolve(root, `.${relative}`)
    if (!file.startsWith(`${root}${path.sep}`)) return deny(res, 404, 'Not found')
    const stat = await fs.stat(file).catch(() => null)
    if (!stat?.isFile()) return deny(res, 404, 'Not found')
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      ...(fromQuery ? { 'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` } : {})
    })
    if (req.method === 'HEAD') return void res.end()
    createReadStream(file).pipe(res)
  }

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    }
    const url = new URL(req.url ?? '/', origin)
    if (url.pathname !== API_PATH) return refuse('404 Not Found')
    if (!sameSecret(cookieToken(req), token) && !sameSecret(url.searchParams.get('token'), token))
      return refuse('401 Unauthorized')
    if (req.headers.origin !== origin) return refuse('403 Forbidden')
    sockets.handleUpgrade(req, socket, head, (ws) => serveSocket(ws))
  })

  /**
   * A new token for everyone: sockets opened with the old one are closed (4401 tells their pages why),
   * except the caller's, whose page trades the new token for a cookie and keeps working.
   */
  async function rotate(caller: WebSocket) {
    token = options.rotateToken ? await options.rotateToken() : newToken()
    for (const client of sockets.clients) if (client !== caller) client.close(4401, 'token rotated')
    return ok({ url: `${origin}/?token=${token}` })
  }

  function serveSocket(ws: WebSocket): void {
    const api: AppApi = { ...options.api, rotateDashboardToken: () => rotate(ws) }
    ws.on('message', (data) => {
      let message: { id?: unknown; method?: unknown; args?: unknown }
      try {
        message = JSON.parse(data.toString()) as typeof message
      } catch {
        return ws.send(
          JSON.stringify({
            id: null,
            result: { ok: false, error: { code: 'invalid-input', message: 'Not JSON' } }
          })
        )
      }
      const id = typeof message.id === 'number' ? message.id : null
      // dispatch answers every call with a Result; the catch is for what happens after it (a reply
      // that cannot be serialized), which would otherwise be an unhandled rejection ending the process.
      dispatch(api, message.method, message.args ?? [])
        .then((result) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ id, result })))
        .catch((error: unknown) => {
          const reply = { ok: false, error: { code: 'engine-error', message: (error as Error).message } }
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id, result: reply }))
        })
    })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  origin = `http://127.0.0.1:${port}`

  return {
    get url() {
      return `${origin}/?token=${token}`
    },
    port,
    get token() {
      return token
    },
    broadcast(event, payload) {
      const text = JSON.stringify({ event, payload })
      for (const client of sockets.clients) if (client.readyState === client.OPEN) client.send(text)
    },
    async close() {
      for (const client of sockets.clients) client.terminate()
      sockets.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}
