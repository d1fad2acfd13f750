/**
 * "Share without password" for real: a local port without credentials in front of Debian squid (basic
 * auth) and microsocks (SOCKS5 user/password), used by clients that send no credentials; stopping
 * frees the port; loopback only. Then the same through the service, as the UI calls it.
 */
import { promises as fs } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { SharedPortInfo } from '../../common/ipc-contract.ts'
import type { Profile } from '../../common/model.ts'
import type { Result } from '../../common/result.ts'
import { startRuntime } from '../../main/app/runtime.ts'
import { dispatch } from '../../main/services/dispatch.ts'
import { SharedPorts } from '../../main/services/shared-ports.ts'
import { httpsGetViaProxy, proxyGet } from '../harness/client.ts'
import { patternBytes } from '../harness/origin.ts'
import { startWorld, testLookup, viaProfile, type World } from './world.ts'

let world: World
let shared: SharedPorts

beforeAll(async () => {
  world = await startWorld()
}, 60_000)
afterAll(async () => {
  await world?.close()
})
afterEach(async () => {
  await shared?.stopAll()
})

/** A profile with squid, microsocks, and microsocks reached through squid (a chain). */
function profile(): Profile {
  return {
    ...viaProfile(world.upstreams.squid),
    upstreams: [
      world.upstreams.squid,
      world.upstreams.socks5,
      { ...world.upstreams.socks5, id: 'chained', name: 'SOCKS via squid', via: 'squid' }
    ]
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1' }, () => server.close(() => resolve(true)))
  })
}

const unwrap = <T>(result: Result<T>): T => {
  if (!result.ok) throw new Error(result.error.message)
  return result.value
}

describe('a shared port', () => {
  it.each(['squid', 'socks5', 'chained'])(
    'carries plain HTTP and CONNECT + TLS through %s without credentials',
    async (upstreamId) => {
      shared = new SharedPorts(() => ({ lookup: testLookup }))
      const info = unwrap(await shared.share(profile(), upstreamId))
      expect(info.url).toBe(`http://127.0.0.1:${info.port}`)
      const res = await proxyGet(info.port, `${world.origin.url}/echo`)
      expect(res.status, res.body.toString()).toBe(200)
      const echo = JSON.parse(res.body.toString()) as { headers: Record<string, string> }
      // Squid adds its Via only when it carried the request itself (not as a tunnel for SOCKS).
      if (upstreamId === 'squid') expect(echo.headers.via).toMatch(/squid/)
      else expect(echo.headers.via ?? '').not.toMatch(/squid/)
      const tls = await httpsGetViaProxy(
        info.port,
        '127.0.0.1',
        world.tlsOrigin.port,
        '/bytes/5000',
        world.ca.certPem
      )
      expect(tls.status).toBe(200)
      expect(tls.body.equals(patternBytes(5000))).toBe(true)
    }
  )

  it('asks the client for nothing, and the upstream still requires credentials', async () => {
    // Without the shared port, a request to squid with no credentials is refused: the port adds them.
    const direct = await proxyGet(world.squid.port, `${world.origin.url}/echo`)
    expect(direct.status).toBe(407)
    shared = new SharedPorts(() => ({ lookup: testLookup }))
    const info = unwrap(await shared.share(profile(), 'squid'))
    expect((await proxyGet(info.port, `${world.origin.url}/echo`)).status).toBe(200)
  })

  it('frees its port when stopped, closing open tunnels', async () => {
    shared = new SharedPorts(() => ({ lookup: testLookup }))
    const info = unwrap(await shared.share(profile(), 'squid'))
    expect(await bindable(info.port)).toBe(false)
    const open = net.connect(info.port, '127.0.0.1')
    const closed = new Promise((resolve) => open.once('close', resolve))
    open.on('error', () => {})
    await new Promise((resolve) => open.once('connect', resolve))
    unwrap(await shared.stop(info.port))
    await closed
    expect(await bindable(info.port)).toBe(true)
    expect(shared.list()).toEqual([])
    expect((await shared.stop(info.port)).ok).toBe(false)
  })

  it('listens on the port asked for, and refuses one already shared', async () => {
    const free = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo
        probe.close(() => resolve(port))
      })
    })
    shared = new SharedPorts(() => ({ lookup: testLookup }))
    expect(unwrap(await shared.share(profile(), 'squid', { port: free })).port).toBe(free)
    const again = await shared.share(profile(), 'socks5', { port: free })
    expect(again.ok || again.error.code).toBe('conflict')
    // A port another program holds is refused, saying so.
    const taken = net.createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const busy = await shared.share(profile(), 'socks5', { port: (taken.address() as net.AddressInfo).port })
    await new Promise((resolve) => taken.close(resolve))
    expect(busy.ok || busy.error.message).toMatch(/already in use/)
    expect(shared.list()).toHaveLength(1)
  })

  it.each(['0.0.0.0', '::', '192.168.1.10', 'localhost'])('is refused on %s', async (host) => {
    shared = new SharedPorts(() => ({ lookup: testLookup }))
    const result = await shared.share(profile(), 'squid', { host })
    expect(result.ok || result.error.code).toBe('invalid-input')
    expect(result.ok || result.error.message).toMatch(/loopback/)
    expect(shared.list()).toEqual([])
  })

  it('names what cannot be shared', async () => {
    shared = new SharedPorts(() => ({ lookup: testLookup }))
    const missing = await shared.share(profile(), 'nope')
    expect(missing.ok || missing.error.code).toBe('not-found')
    const withGroup: Profile = {
      ...profile(),
      groups: [{ id: 'g', name: 'Both', strategy: 'failover', members: ['squid', 'socks5'] }]
    }
    const group = await shared.share(withGroup, 'g')
    expect(group.ok || group.error.message).toMatch(/"Both" is a group/)
  })
})

describe('through the service', () => {
  it('shares, lists and stops a saved upstream; quitting closes the rest', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-shared-'))
    const app = await startRuntime({ dataDir, port: 0, log: () => undefined })
    let stopped = false
    try {
      const call = async <T>(name: string, ...args: unknown[]): Promise<Result<T>> =>
        (await dispatch(app.service, name, args)) as Result<T>
      unwrap(await call('saveProfile', profile()))
      const first = unwrap(await call<SharedPortInfo>('shareUpstream', profile().id, 'squid'))
      const second = unwrap(await call<SharedPortInfo>('shareUpstream', profile().id, 'socks5'))
      expect(first.upstreamName).toBe('squid')
      expect((await proxyGet(first.port, `${world.origin.url}/echo`)).status).toBe(200)
      const listed = unwrap(await call<SharedPortInfo[]>('listSharedPorts'))
      expect(listed.map((s) => s.port)).toEqual([first.port, second.port])
      unwrap(await call('stopSharedPort', first.port))
      expect(unwrap(await call<SharedPortInfo[]>('listSharedPorts')).map((s) => s.port)).toEqual([
        second.port
      ])
      expect((await call('shareUpstream', profile().id, 'squid', 70000)).ok).toBe(false)

      // Saving the profile again: the share follows its upstream (here, a wrong password)…
      const third = unwrap(await call<SharedPortInfo>('shareUpstream', profile().id, 'squid'))
      const wrong = { ...world.upstreams.squid, password: 'not the password' }
      unwrap(await call('saveProfile', { ...profile(), upstreams: [wrong, world.upstreams.socks5] }))
      const refused = await proxyGet(third.port, `${world.origin.url}/echo`)
      expect(refused.status).toBe(502)
      expect(refused.headers['x-junction-error']).toBe('upstream-auth-failed')
      // …and stops once the upstream is no longer in the profile.
      const withoutSquid = {
        ...profile(),
        upstreams: [world.upstreams.socks5],
        defaultAction: { type: 'direct' }
      }
      unwrap(await call('saveProfile', withoutSquid))
      expect(unwrap(await call<SharedPortInfo[]>('listSharedPorts')).map((s) => s.port)).toEqual([
        second.port
      ])
      expect(await bindable(third.port)).toBe(true)
      expect((await call('shareUpstream', 'no-such-profile', 'squid')).ok).toBe(false)
      // Deleting the profile stops its shares; quitting stops all others.
      const other = unwrap(await call<SharedPortInfo>('shareUpstream', profile().id, 'socks5'))
      unwrap(await call('deleteProfile', profile().id))
      expect(unwrap(await call<SharedPortInfo[]>('listSharedPorts'))).toEqual([])
      expect(await bindable(other.port)).toBe(true)
      unwrap(await call('saveProfile', profile()))
      const last = unwrap(await call<SharedPortInfo>('shareUpstream', profile().id, 'squid'))
      stopped = true
      await app.stop()
      expect(await bindable(last.port)).toBe(true)
    } finally {
      if (!stopped) await app.stop()
      await fs.rm(dataDir, { recursive: true, force: true })
    }
  })
})
