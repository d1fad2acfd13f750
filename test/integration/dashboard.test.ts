/**
 * The headless dashboard's transport: token and cookie on HTTP, token and Origin on the WebSocket,
 * and the contract carried over it with the same validation as IPC, against a real engine.
 */
import { promises as fs } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startDashboard, type Dashboard } from '../../main/dashboard/dashboard-server.ts'
import { startRuntime, type Runtime } from '../../main/app/runtime.ts'
import { forwardEvents } from '../../main/ipc/events.ts'

let dataDir: string
let staticDir: string
let app: Runtime
let dashboard: Dashboard

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-dashboard-'))
  staticDir = path.join(dataDir, 'ui')
  await fs.mkdir(path.join(staticDir, 'assets'), { recursive: true })
  await fs.writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>Junction</title>')
  await fs.writeFile(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)')
  await fs.writeFile(path.join(dataDir, 'secret.txt'), 'not for the web')
  app = await startRuntime({ dataDir, port: 0, log: () => undefined })
  dashboard = await startDashboard({ api: app.service, staticDir })
  forwardEvents(app, dashboard.broadcast)
})
afterAll(async () => {
  await dashboard?.close()
  await app?.stop()
  await fs.rm(dataDir, { recursive: true, force: true })
})

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

function connect(headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${dashboard.port}/api`, { headers })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

describe('dashboard', () => {
  const origin = () => `http://127.0.0.1:${dashboard.port}`
  const cookie = () => `junction_dashboard=${dashboard.token}`

  it('prints a URL with a random token, and refuses requests without it', async () => {
    expect(dashboard.url).toBe(`${origin()}/?token=${dashboard.token}`)
    expect(dashboard.token.length).toBeGreaterThanOrEqual(32)
    expect((await get('/')).status).toBe(401)
    expect((await get('/?token=wrong')).status).toBe(401)
    expect((await get('/assets/app.js', { Cookie: 'junction_dashboard=wrong' })).status).toBe(401)
  })

  it('trades the token for a strict cookie and then serves the UI, nothing outside it', async () => {
    const page = await get(`/?token=${dashboard.token}`)
    expect(page.status).toBe(200)
    expect(page.body).toContain('<title>Junction</title>')
    expect(page.headers['set-cookie']?.[0]).toBe(`${cookie()}; HttpOnly; SameSite=Strict; Path=/`)
    expect((await get('/assets/app.js', { Cookie: cookie() })).body).toBe('console.log(1)')
    expect((await get('/../secret.txt', { Cookie: cookie() })).status).toBe(404)
    expect((await get('/%2e%2e/secret.txt', { Cookie: cookie() })).status).toBe(404)
  })

  it('refuses WebSockets without the token or from another origin', async () => {
    await expect(connect({ Origin: origin() })).rejects.toThrow('HTTP 401')
    await expect(connect({ Origin: 'https://evil.example', Cookie: cookie() })).rejects.toThrow('HTTP 403')
    await expect(connect({ Cookie: cookie() })).rejects.toThrow('HTTP 403')
  })

  it('carries the contract: calls, validation errors and live events', async () => {
    const ws = await connect({ Origin: origin(), Cookie: cookie() })
    const replies: unknown[] = []
    const events: string[] = []
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id?: number; event?: string }
      if (message.event) events.push(message.event)
      else replies.push(message)
    })
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20))
    }
    ws.send(JSON.stringify({ id: 1, method: 'getEngineState', args: [] }))
    ws.send(JSON.stringify({ id: 2, method: 'deleteProfile', args: [42] }))
    ws.send(JSON.stringify({ id: 3, method: 'rm -rf', args: [] }))
    ws.send('not json')
    await until(() => replies.length === 4)
    expect(replies).toContainEqual({
      id: 1,
      result: { ok: true, value: expect.objectContaining({ status: 'running' }) }
    })
    expect(replies).toContainEqual({
      id: 2,
      result: {
        ok: false,
        error: expect.objectContaining({
          code: 'invalid-input',
          message: expect.stringMatching(/^Nothing was removed: /)
        })
      }
    })
    expect(replies).toContainEqual({
      id: 3,
      result: { ok: false, error: { code: 'invalid-input', message: 'Unknown call "rm -rf"' } }
    })
    expect(replies).toContainEqual({
      id: null,
      result: { ok: false, error: { code: 'invalid-input', message: 'Not JSON' } }
    })
    app.stats.tick()
    await until(() => events.includes('onStats'))
    expect(events).toContain('onStats')
    ws.close()
  })
})
