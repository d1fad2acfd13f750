/**
 * Bad local state, as a user meets it: a real headless Junction (`node main/serve.ts`) over data
 * directories that cannot be written, are files, or hold a settings file with a bad field. Junction
 * must start with what it can read and say once what is wrong — or, for a path that is a file, stop
 * with one message.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { proxyGet } from '../harness/client.ts'
import { killIfRunning, serve, type Running } from '../harness/headless-process.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { freePort } from '../harness/ports.ts'
import type { RequestLogEntry } from '../../common/model.ts'
import { RequestLogFile } from '../../main/stats/request-log.ts'

const UNPRIVILEGED = path.join(import.meta.dirname, 'serve-unprivileged.ts')

let origin: Origin
const dirs: string[] = []
let running: Running | null = null

beforeAll(async () => {
  origin = await startOrigin()
})
afterAll(async () => {
  await origin.close()
})
afterEach(async () => {
  await killIfRunning(running)
  running = null
  for (const dir of dirs.splice(0)) {
    await fs.chmod(dir, 0o755).catch(() => undefined)
    await fs.rm(dir, { recursive: true, force: true })
  }
})

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-local-state-'))
  dirs.push(dir)
  return dir
}

/** Every file under `dir` with its bytes, to show that nothing changed. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of await fs.readdir(dir, { recursive: true })) {
    const file = path.join(dir, name)
    if ((await fs.stat(file)).isFile()) out[name] = await fs.readFile(file, 'utf8')
  }
  return out
}

/** One call over the dashboard's WebSocket, as the web UI makes it. */
async function call(dashboardUrl: string, method: string, args: unknown[]): Promise<unknown> {
  const url = new URL(dashboardUrl)
  const ws = new WebSocket(`ws://${url.host}/api?token=${url.searchParams.get('token')}`, {
    headers: { Origin: url.origin }
  })
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    const reply = new Promise<Buffer>((resolve) => ws.once('message', resolve))
    ws.send(JSON.stringify({ id: 1, method, args }))
    return (JSON.parse((await reply).toString()) as { result: unknown }).result
  } finally {
    ws.close()
  }
}

const settingsWith = (fields: object) => JSON.stringify({ version: 1, ...fields })

describe('an unwritable data directory', () => {
  it('starts with the settings it holds, warns once naming what will not be saved, and refuses saves clearly', async () => {
    const dir = await tempDir()
    const port = await freePort()
    await fs.writeFile(path.join(dir, 'settings.json'), settingsWith({ port, requestLogFile: true }))
    // Read and enter for everyone (the test may run as root and start Junction as nobody), write for none.
    await fs.chmod(path.join(dir, 'settings.json'), 0o644)
    await fs.chmod(dir, 0o555)
    const before = await snapshot(dir)
    running = serve(['--data-dir', dir, '--dashboard-port', '0'], UNPRIVILEGED)
    await running.waitFor(new RegExp(`proxy listening on http://127\\.0\\.0\\.1:${port} `))
    const dashboardUrl = (await running.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/))[1]!

    const warnings = running.lines.filter((line) => line.includes('not writable'))
    expect(warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^\\[junction\\] warning: the data directory ${dir} is not writable \\(EACCES.*\\): running with the settings and profiles it holds, but settings and profile changes, traffic history and the request log will not be saved$`
        )
      )
    ])
    expect(running.lines.filter((line) => /EACCES/.test(line))).toHaveLength(1)
    expect((await proxyGet(port, `${origin.url}/echo`)).status).toBe(200)

    expect(await call(dashboardUrl, 'updateSettings', [{ via: false }])).toMatchObject({
      ok: false,
      error: { code: 'io-error', message: expect.stringMatching(/^Could not save .*settings\.json: EACCES/) }
    })
    const profile = { id: 'p', name: 'P', upstreams: [], rules: [], defaultAction: { type: 'direct' } }
    expect(await call(dashboardUrl, 'saveProfile', [profile])).toMatchObject({
      ok: false,
      error: { code: 'io-error', message: expect.stringMatching(/profiles\.json: EACCES/) }
    })
    // Still serving after the refused saves; nothing in the directory changed.
    expect((await proxyGet(port, `${origin.url}/echo`)).status).toBe(200)
    expect(running.child.exitCode).toBeNull()
    expect(await snapshot(dir)).toEqual(before)

    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
    expect(running.lines.at(-1)).toMatch(
      /^\[junction\] history not saved: Could not save .*history\.json: EACCES/
    )
  })

  it('one that cannot be read either: runs on defaults and says so in one line, not one per file', async () => {
    const dir = await tempDir()
    await fs.writeFile(path.join(dir, 'settings.json'), settingsWith({ via: false }))
    await fs.chmod(dir, 0o000)
    running = serve(['--port', '0', '--data-dir', dir, '--no-dashboard'], UNPRIVILEGED)
    const [, port] = await running.waitFor(
      /proxy listening on http:\/\/127\.0\.0\.1:(\d+) — profile "Direct"/
    )
    expect(running.lines.filter((line) => /EACCES|cannot be read|problem/.test(line))).toEqual([
      expect.stringMatching(
        /^\[junction\] warning: the data directory .* can be neither read nor written \(EACCES.*\): running on default settings and no profiles; nothing will be saved$/
      )
    ])
    // Defaults: Via is on, whatever the unreadable file says.
    expect((await proxyGet(Number(port), `${origin.url}/echo`)).headers.via).toMatch(/junction/)
  })

  it('a request log path that cannot be a folder: starts, says so once, and serves', async () => {
    const dir = await tempDir()
    await fs.writeFile(path.join(dir, 'settings.json'), settingsWith({ requestLogFile: true }))
    await fs.writeFile(path.join(dir, 'logs'), 'a file where the log folder goes')
    running = serve(['--port', '0', '--data-dir', dir, '--no-dashboard'])
    const [, port] = await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/)
    expect((await proxyGet(Number(port), `${origin.url}/echo`)).status).toBe(200)
    expect(running.lines.filter((line) => line.includes('request log'))).toEqual([
      expect.stringMatching(
        /^\[junction\] warning: the request log is not written to a file this run: .*logs/
      )
    ])
    expect(await fs.readFile(path.join(dir, 'logs'), 'utf8')).toBe('a file where the log folder goes')
  })
})

describe('a data directory path that is a file', () => {
  it.each([
    ['the file itself', ''],
    ['a folder under it', 'sub']
  ])('%s: exits 1 with one message naming it', async (_case, sub) => {
    const dir = await tempDir()
    const file = path.join(dir, 'not-a-folder')
    await fs.writeFile(file, 'x')
    const dataDir = path.join(file, sub)
    running = serve(['--port', '0', '--data-dir', dataDir, '--no-dashboard'])
    expect(await running.exited).toBe(1)
    expect(running.lines).toEqual([
      `[junction] data directory: ${dataDir}`,
      `[junction] the data directory ${dataDir} is not a directory (it is a file, or lies under one): pass --data-dir with a folder, or move that file away`
    ])
    expect(await fs.readFile(file, 'utf8')).toBe('x')
  })
})

describe('settings.json with one bad field', () => {
  it('keeps the configured port and the other fields, names the field once, and leaves the file alone', async () => {
    const dir = await tempDir()
    const port = await freePort()
    const text = settingsWith({ port, via: false, timeouts: { connectSeconds: 'soon' }, fromTheFuture: 1 })
    await fs.writeFile(path.join(dir, 'settings.json'), text)
    running = serve(['--data-dir', dir, '--no-dashboard'])
    await running.waitFor(new RegExp(`proxy listening on http://127\\.0\\.0\\.1:${port} `))
    const problems = running.lines.filter((line) => line.includes('connectSeconds'))
    expect(problems).toEqual([
      expect.stringMatching(
        /^\[junction\] config problem: .*settings\.json has invalid entries, ignored: timeouts\.connectSeconds: must be a whole number of seconds \(using the default, 15\) \(the file was left as it is/
      )
    ])
    // Via off was kept: a plain-HTTP response through the proxy carries no Via header.
    const res = await proxyGet(port, `${origin.url}/echo`)
    expect(res.headers.via).toBeUndefined()
    expect(await fs.readdir(dir)).toEqual(['settings.json'])
    expect(await fs.readFile(path.join(dir, 'settings.json'), 'utf8')).toBe(text)
  })

  it('LAN access without credentials keeps the port and listens on loopback, with a warning', async () => {
    const dir = await tempDir()
    const port = await freePort()
    await fs.writeFile(path.join(dir, 'settings.json'), settingsWith({ port, listenHost: '0.0.0.0' }))
    running = serve(['--data-dir', dir, '--no-dashboard'])
    await running.waitFor(new RegExp(`proxy listening on http://127\\.0\\.0\\.1:${port} `))
    expect(running.lines.filter((line) => line.includes('LAN access'))).toEqual([
      expect.stringMatching(
        /listenHost "0\.0\.0\.0" \(LAN access\) needs proxyAuth .*listening on 127\.0\.0\.1 only/
      )
    ])
    expect(await fs.readdir(dir)).toEqual(['settings.json'])
  })
})

describe('problem reports', () => {
  it('a name from the file cannot forge a log line: control characters are escaped', async () => {
    const dir = await tempDir()
    const profile = {
      id: 'work',
      name: 'Work\n[junction] proxy listening on http://127.0.0.1:1 — profile "Fake"',
      upstreams: [],
      rules: [
        { id: 'r', enabled: 'yes', matchers: [{ type: 'host', value: 'a.test' }], action: { type: 'direct' } }
      ],
      defaultAction: { type: 'direct' }
    }
    await fs.writeFile(path.join(dir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [profile] }))
    running = serve(['--port', '0', '--data-dir', dir, '--no-dashboard'])
    await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:\d+ — profile "Direct"/)
    expect(running.lines.filter((line) => line.includes('profile "Fake"'))).toEqual([
      expect.stringMatching(/^\[junction\] config problem: .*profile "Work\\n\[junction\] proxy listening/)
    ])
  })
})

describe('upstream passwords without a keychain', () => {
  it('headless mode says at start that they are stored unencrypted, naming the upstream, never the password', async () => {
    const dir = await tempDir()
    const secret = 'pw-7f3a9c1e'
    const profile = {
      id: 'corp',
      name: 'Corp',
      upstreams: [
        {
          id: 'sq',
          name: 'Squid',
          scheme: 'http',
          host: '127.0.0.1',
          port: 9,
          username: 'me',
          password: secret
        }
      ],
      rules: [],
      defaultAction: { type: 'direct' }
    }
    await fs.writeFile(path.join(dir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [profile] }))
    running = serve(['--port', '0', '--data-dir', dir, '--no-dashboard'])
    await running.waitFor(/proxy listening/)
    const [warning] = await running.waitFor(/warning: no OS keychain.*/)
    expect(warning).toMatch(
      /no OS keychain is available here: upstream passwords in profiles\.json \(1 stored: "Corp\/Squid"\) and the HTTPS interception CA key \(ca\/junction-ca\.key\) are stored unencrypted/
    )
    expect(running.lines.filter((line) => line.includes('no OS keychain'))).toHaveLength(1)
    running.child.kill('SIGTERM')
    await running.exited
    expect(running.lines.join('\n')).not.toContain(secret)
  })
})

describe('the request log file', () => {
  it('a write that fails is reported once and never ends the process', async () => {
    const dir = await tempDir()
    const errors: string[] = []
    const log = new RequestLogFile({ dir: path.join(dir, 'logs'), onError: (m) => errors.push(m) })
    await log.open()
    const entry: RequestLogEntry = {
      at: 1,
      connectionId: 1,
      method: 'GET',
      host: 'a.test',
      port: 80,
      status: 200,
      error: null,
      profileId: 'direct',
      ruleId: null,
      route: 'direct',
      up: 1,
      down: 1,
      durationMs: 1,
      rewritten: 0
    }
    // The log file's folder disappears under Junction, and a file takes its place.
    await fs.rm(path.join(dir, 'logs'), { recursive: true })
    await fs.writeFile(path.join(dir, 'logs'), '')
    for (let i = 0; i < 2500; i++) log.write(entry)
    await log.close()
    expect(errors).toEqual([expect.stringMatching(/^request log not written to .*requests\.log: ENOTDIR/)])
  })
})
