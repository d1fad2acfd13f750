/**
 * Crash safety for real: headless Junction turns the GNOME proxy on, is killed with SIGKILL, and the
 * next start puts the user's previous settings back. Also the PAC file on the proxy port.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCommand } from '../../../main/sysproxy/command-runner.ts'
import { createGnomePlatform } from '../../../main/sysproxy/gnome.ts'
import type { OsSnapshot, SystemProxyPlatform } from '../../../main/sysproxy/types.ts'
import { proxyGet, rawRequest } from '../../harness/client.ts'
import { startDesktopSession, type DesktopSession } from '../../harness/desktop-session.ts'
import { serve, type Running } from '../../harness/headless-process.ts'

let session: DesktopSession
let platform: SystemProxyPlatform
let dataDir: string
let before: OsSnapshot
let running: Running | null = null

beforeEach(async () => {
  session = await startDesktopSession('GNOME')
  platform = createGnomePlatform(runCommand, session.env)
  const gs = (...args: string[]) => runCommand('gsettings', ['set', ...args], { env: session.env })
  await gs('org.gnome.system.proxy.http', 'host', 'corp-proxy.example')
  await gs('org.gnome.system.proxy.http', 'port', '3128')
  await gs('org.gnome.system.proxy', 'mode', 'manual')
  before = await platform.snapshot()
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-crash-'))
})
afterEach(async () => {
  if (running && running.child.exitCode === null) {
    running.child.kill('SIGKILL')
    await running.exited
  }
  running = null
  await session.close()
  await fs.rm(dataDir, { recursive: true, force: true })
})

async function start(mode: 'off' | 'manual' | 'pac'): Promise<number> {
  running = serve(['--port', '0', '--data-dir', dataDir, '--system-proxy', mode], undefined, session.env)
  const [, port] = await running.waitFor(/proxy listening on http:\/\/127\.0\.0\.1:(\d+)/)
  if (mode !== 'off') await running.waitFor(/system proxy: (manual|PAC)/)
  return Number(port)
}

describe('system proxy crash safety', () => {
  it('SIGKILL with the proxy on, then a start with it off: the previous settings are back', async () => {
    const port = await start('manual')
    expect(running!.lines.join('\n')).toContain(`system proxy: manual → 127.0.0.1:${port} (gnome)`)
    expect(platform.view(await platform.snapshot())).toMatchObject({
      mode: 'manual',
      http: { host: '127.0.0.1', port }
    })
    running!.child.kill('SIGKILL')
    await running!.exited
    // Killed: nothing could restore, so the OS still points at the dead port…
    expect(platform.view(await platform.snapshot()).http).toEqual({ host: '127.0.0.1', port })
    // …until the next start, which restores before anything else.
    await start('off')
    await running!.waitFor(
      /system proxy: restored the system proxy settings from before Junction's last session/
    )
    expect(await platform.snapshot()).toEqual(before)
    running!.child.kill('SIGTERM')
    expect(await running!.exited).toBe(0)
    expect(await platform.snapshot()).toEqual(before)
  })

  it('SIGKILL, then a start that keeps the proxy on: on again, and a clean stop restores the original', async () => {
    await start('pac')
    running!.child.kill('SIGKILL')
    await running!.exited
    const port = await start('manual')
    expect(platform.view(await platform.snapshot())).toMatchObject({
      mode: 'manual',
      http: { host: '127.0.0.1', port }
    })
    running!.child.kill('SIGTERM')
    expect(await running!.exited).toBe(0)
    expect(running!.lines).toContain('[junction] system proxy: previous settings restored')
    expect(await platform.snapshot()).toEqual(before)
  })
})

describe('PAC endpoint', () => {
  it('serves the PAC on the proxy port with ETag/Last-Modified and 304s, next to normal proxying', async () => {
    const port = await start('pac')
    expect(platform.view(await platform.snapshot())).toMatchObject({
      mode: 'pac',
      pacUrl: `http://127.0.0.1:${port}/proxy.pac`
    })
    const pac = await rawRequest(port, 'GET /proxy.pac HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    expect(pac).toMatch(/^HTTP\/1\.1 200 OK/)
    expect(pac).toMatch(/content-type: application\/x-ns-proxy-autoconfig/i)
    expect(pac).toContain(`return "PROXY 127.0.0.1:${port}; DIRECT";`)
    const etag = /etag: (".*")/i.exec(pac)![1]!
    const modified = /last-modified: (.*)\r/i.exec(pac)![1]!
    const again = await rawRequest(
      port,
      `GET /proxy.pac HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\nConnection: close\r\n\r\n`
    )
    expect(again).toMatch(/^HTTP\/1\.1 304 Not Modified/)
    const since = await rawRequest(
      port,
      `GET /proxy.pac HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: ${modified}\r\nConnection: close\r\n\r\n`
    )
    expect(since).toMatch(/^HTTP\/1\.1 304/)
    expect(await rawRequest(port, 'GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 400[\s\S]*This is the Junction proxy/
    )
    // The same port still proxies.
    const { startOrigin } = await import('../../harness/origin.ts')
    const origin = await startOrigin()
    try {
      expect((await proxyGet(port, `${origin.url}/echo`)).status).toBe(200)
    } finally {
      await origin.close()
    }
  })
})
