/**
 * Access to the headless dashboard over time: a request without access gets a page that says how to
 * get in; rotating the token (from one open dashboard) refuses every other one at once, keeps the
 * caller working, and is kept in the data directory for the next start.
 */
import { promises as fs } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startRuntime, type Runtime } from '../../main/app/runtime.ts'
import { startDashboard, type Dashboard } from '../../main/dashboard/dashboard-server.ts'
import { DashboardTokenStore } from '../../main/dashboard/dashboard-token.ts'

let dataDir: string
let app: Runtime
let dashboard: Dashboard
let tokens: DashboardTokenStore

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-dashboard-access-'))
  const staticDir = path.join(dataDir, 'ui')
  await fs.mkdir(staticDir, { recursive: true })
  await fs.writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>Junction</title>')
  app = await startRuntime({ dataDir, port: 0, log: () => undefined })
  tokens = await DashboardTokenStore.open(dataDir)
  dashboard = await startDashboard({
    api: app.service,
    staticDir,
    token: tokens.token,
    rotateToken: () => tokens.rotate()
  })
})
afterAll(async () => {
  await dashboard?.close()
  await app?.stop()
  await fs.rm(dataDir, { recursive: true, force: true })
})

const origin = () => `http://127.0.0.1:${dashboard.port}`

function get(pathAndQuery: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: dashboard.port, path: pathAndQuery, headers }, (res) => {
          let body = ''
          res.on('data', (c: Buffer) => (body += c.toString()))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        })
        .on('error', reject)
    }
  )
}

interface Client {
  ws: WebSocket
  closed: Promise<number>
  call(method: string, args?: unknown[]): Promise<{ ok: boolean; value?: unknown; error?: unknown }>
}

function connect(token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${dashboard.port}/api`, {
      headers: { Origin: origin(), Cookie: `junction_dashboard=${token}` }
    })
    const waiting = new Map<number, (result: never) => void>()
    let nextId = 1
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: never }
      if (typeof message.id === 'number') waiting.get(message.id)?.(message.result!)
    })
    const closed = new Promise<number>((done) => ws.once('close', (code) => done(code)))
    ws.once('open', () =>
      resolve({
        ws,
        closed,
        call: (method, args = []) =>
          new Promise((answer) => {
            const id = nextId++
            waiting.set(id, answer)
            ws.send(JSON.stringify({ id, method, args }))
          })
      })
    )
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

describe('dashboard access', () => {
  it('answers a request without access with a small HTML page that says how to open the dashboard', async () => {
    for (const attempt of [
      get('/'),
      get('/?token=wrong'),
      get('/assets/x.js', { Cookie: 'junction_dashboard=x' })
    ]) {
      const page = await attempt
      expect(page.status).toBe(401)
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(page.body).toContain('npm run serve')
      expect(page.body).toMatch(/^<!doctype html>/)
      expect(page.body).not.toContain(dashboard.token)
    }
  })

  it('uses the token kept in the data directory', async () => {
    expect(dashboard.token).toBe(tokens.token)
    expect((await get('/', { Cookie: `junction_dashboard=${tokens.token}` })).status).toBe(200)
  })

  it('rotation refuses other dashboards at once, keeps the caller, and is kept for the next start', async () => {
    const old = dashboard.token
    const caller = await connect(old)
    const other = await connect(old)
    const rotated = await caller.call('rotateDashboardToken')
    expect(rotated.ok).toBe(true)
    const url = new URL((rotated.value as { url: string }).url)
    const fresh = url.searchParams.get('token')!
    expect(fresh).not.toBe(old)
    expect(url.origin).toBe(origin())
    expect(await other.closed).toBe(4401)
    // The caller's link stays up and keeps answering.
    expect((await caller.call('getEngineState')).ok).toBe(true)
    // The old cookie opens nothing; the new token does, and is traded for a cookie.
    expect((await get('/', { Cookie: `junction_dashboard=${old}` })).status).toBe(401)
    await expect(connect(old)).rejects.toThrow('HTTP 401')
    const page = await get(`/?token=${fresh}`)
    expect(page.status).toBe(200)
    expect(page.headers['set-cookie']?.[0]).toContain(`junction_dashboard=${fresh};`)
    expect((await DashboardTokenStore.open(dataDir)).token).toBe(fresh)
    caller.ws.close()
  })

  it('the desktop (IPC) path refuses rotation: only the dashboard holds a token', async () => {
    const result = await app.service.rotateDashboardToken()
    expect(result.ok).toBe(false)
  })

  it('reports the port given on the command line as an override', async () => {
    const result = await app.service.getRunOverrides()
    expect(result).toEqual({ ok: true, value: { port: 0 } })
  })
})
