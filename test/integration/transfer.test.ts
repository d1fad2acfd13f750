/**
 * Import and export with real proxies. Imported fixture files (SwitchyOmega, FoxyProxy, Clash) carry
 * traffic through Debian squid and microsocks; a profile exported as a Squid configuration runs in a
 * second Debian squid and must route and block a table of requests exactly as Junction does.
 *
 * Which way a request went is read from what reached the origin: the upstream squid names itself
 * (`junction-test`) in the Via header it adds. That microsocks carried a request is shown by the
 * same request failing once the imported SOCKS password is changed.
 */
import { execFile } from 'node:child_process'
import { promises as fs, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Profile } from '../../common/model.ts'
import { buildSquidConfig } from '../../main/transfer/export-squid.ts'
import { readImport } from '../../main/transfer/import-file.ts'
import { connectTunnel, proxyGet } from '../harness/client.ts'
import { startMicrosocks } from '../harness/microsocks.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { startSquid, type Upstream as Running } from '../harness/squid.ts'
import { SQUID_AUTH, startEngine } from './world.ts'

const FIXTURE_AUTH = { username: 'team', password: 'fixture-pass' }
const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/import')

let origin: Origin
let blockedOrigin: Origin
let squid: Running
let socks: Running

beforeAll(async () => {
  ;[origin, blockedOrigin, squid, socks] = await Promise.all([
    startOrigin(),
    startOrigin(),
    startSquid(FIXTURE_AUTH),
    startMicrosocks(FIXTURE_AUTH)
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all([origin?.close(), blockedOrigin?.close(), squid?.close(), socks?.close()])
})

/** The fixture's profile with its upstreams moved from the documented ports to the running proxies. */
function imported(file: string, name?: string): Profile {
  const result = readImport(readFileSync(path.join(FIXTURES, file), 'utf8'), file)
  if (!result.ok) throw new Error(result.error.message)
  const profile = name ? result.value.profiles.find((p) => p.name === name) : result.value.profiles[0]
  if (!profile) throw new Error(`no profile "${name}" in ${file}`)
  const ports: Record<number, number> = { 3128: squid.port, 1080: socks.port }
  return { ...profile, upstreams: profile.upstreams.map((u) => ({ ...u, port: ports[u.port] ?? u.port })) }
}

/** Whether the origin's view of a GET shows it passed the upstream squid. */
function viaSquid(body: Buffer): boolean {
  const seen = JSON.parse(body.toString('utf8')) as { headers: Record<string, string> }
  return (seen.headers.via ?? '').includes('junction-test')
}

async function withEngine<T>(profile: Profile, run: (port: number) => Promise<T>): Promise<T> {
  const engine = await startEngine({ profile })
  try {
    return await run(engine.port)
  } finally {
    await engine.stop()
  }
}

describe.each([
  ['switchyomega.bak', 'auto switch'],
  ['foxyproxy.json', undefined],
  ['clash.yaml', undefined]
])('imported %s carries real traffic', (file, name) => {
  it('localhost through squid (HTTP and CONNECT), 127.0.0.1 through microsocks', async () => {
    const profile = imported(file, name)
    await withEngine(profile, async (port) => {
      const http = await proxyGet(port, `http://localhost:${origin.port}/echo`)
      expect(http.status).toBe(200)
      expect(viaSquid(http.body)).toBe(true)
      const tunnel = await connectTunnel(port, `localhost:${origin.port}`)
      tunnel.socket.destroy()
      expect(tunnel.status).toBe(200)
      const socksRoute = await proxyGet(port, `http://127.0.0.1:${origin.port}/echo`)
      expect(socksRoute.status).toBe(200)
      expect(viaSquid(socksRoute.body)).toBe(false)
    })
    // The same request with a wrong SOCKS password fails: microsocks, with the imported login, carried it.
    const wrong = {
      ...profile,
      upstreams: profile.upstreams.map((u) => (u.port === socks.port ? { ...u, password: 'wrong' } : u))
    }
    await withEngine(wrong, async (port) => {
      const refused = await proxyGet(port, `http://127.0.0.1:${origin.port}/echo`)
      expect(refused.status).not.toBe(200)
    })
  }, 60_000)
})

describe('imported Clash REJECT rule', () => {
  it('blocks with 403 before any name is looked up', async () => {
    await withEngine(imported('clash.yaml'), async (port) => {
      expect((await proxyGet(port, 'http://x.ads.test/')).status).toBe(403)
      const tunnel = await connectTunnel(port, 'x.ads.test:443')
      tunnel.socket.destroy()
      expect(tunnel.status).toBe(403)
    })
  }, 30_000)
})

describe('Squid configuration export', () => {
  let parent: Running
  let exported: Running
  let profile: Profile

  beforeAll(async () => {
    // The parent needs a login with characters Squid's config must escape (`:`, `%`, `#`, `/`, `?`, `@`).
    parent = await startSquid(SQUID_AUTH)
    profile = {
      id: 'squid-export',
      name: 'Squid export',
      upstreams: [
        {
          id: 'parent',
          name: 'Parent squid',
          scheme: 'http',
          host: '127.0.0.1',
          port: parent.port,
          ...SQUID_AUTH
        },
        { id: 'socks', name: 'Socks', scheme: 'socks5', host: '127.0.0.1', port: socks.port, ...FIXTURE_AUTH }
      ],
      rules: [
        {
          id: 'ads',
          enabled: true,
          matchers: [{ type: 'domain', value: 'blocked.test' }],
          action: { type: 'block', status: 403, body: 'no' }
        },
        {
          id: 'legal',
          enabled: true,
          matchers: [
            { type: 'host', value: 'localhost' },
            { type: 'port', value: String(blockedOrigin.port) }
          ],
          action: { type: 'block', status: 451, body: 'no' }
        },
        {
          id: 'tunnels-direct',
          enabled: true,
          matchers: [
            { type: 'wildcard', value: 'localh*' },
            { type: 'protocol', value: 'connect' }
          ],
          action: { type: 'direct' }
        },
        // SOCKS cannot be a Squid parent: exported as a comment, so both skip it for this target.
        {
          id: 'socks-only',
          enabled: true,
          matchers: [{ type: 'host', value: 'socks.test' }],
          action: { type: 'upstream', upstreamId: 'socks' }
        },
        {
          id: 'ip-parent',
          enabled: true,
          matchers: [
            { type: 'ip', value: '127.0.0.1' },
            { type: 'port', value: String(origin.port) }
          ],
          action: { type: 'upstream', upstreamId: 'parent' }
        },
        {
          id: 'loopback-direct',
          enabled: true,
          matchers: [{ type: 'regex', value: '^127\\.' }],
          action: { type: 'direct' }
        }
      ],
      defaultAction: { type: 'upstream', upstreamId: 'parent' }
    }
    exported = await startSquid({
      ...SQUID_AUTH,
      access: buildSquidConfig(profile),
      visibleHostname: 'exported-squid'
    })
  }, 60_000)

  afterAll(async () => {
    await Promise.all([parent?.close(), exported?.close()])
  })

  type Outcome = { status: number; viaParent?: boolean }

  async function outcome(proxyPort: number, request: string): Promise<Outcome> {
    if (request.startsWith('CONNECT ')) {
      const tunnel = await connectTunnel(proxyPort, request.slice(8))
      tunnel.socket.destroy()
      return { status: tunnel.status }
    }
    const response = await proxyGet(proxyPort, request)
    return response.status === 200
      ? { status: 200, viaParent: viaSquid(response.body) }
      : { status: response.status }
  }

  it('routes and blocks the same requests as Junction does with the profile', async () => {
    const table: Array<[string, Outcome]> = [
      ['http://blocked.test/', { status: 403 }],
      ['CONNECT www.blocked.test:443', { status: 403 }],
      [`http://localhost:${blockedOrigin.port}/echo`, { status: 451 }],
      [`CONNECT localhost:${blockedOrigin.port}`, { status: 451 }],
      [`http://localhost:${origin.port}/echo`, { status: 200, viaParent: true }],
      [`CONNECT localhost:${origin.port}`, { status: 200 }],
      [`http://127.0.0.1:${origin.port}/echo`, { status: 200, viaParent: true }],
      [`CONNECT 127.0.0.1:${origin.port}`, { status: 200 }],
      [`http://127.0.0.1:${blockedOrigin.port}/echo`, { status: 200, viaParent: false }]
    ]
    const junction = await withEngine(profile, async (port) => {
      const seen: Outcome[] = []
      for (const [request] of table) seen.push(await outcome(port, request))
      return seen
    })
    const viaSquidExport: Outcome[] = []
    for (const [request] of table) viaSquidExport.push(await outcome(exported.port, request))
    const expected = table.map(([, want]) => want)
    expect(junction).toEqual(expected)
    expect(viaSquidExport).toEqual(expected)
  }, 60_000)

  it('is parsed by Squid without an error or warning, every kind of matcher and action included', async () => {
    const rich: Profile = {
      id: 'rich',
      name: 'Rich',
      upstreams: [
        {
          id: 'a',
          name: 'A',
          scheme: 'http',
          host: '10.0.0.1',
          port: 3128,
          username: 'us er',
          password: 'p%:#'
        },
        { id: 'b', name: 'B', scheme: 'https', host: 'proxy.example.com', port: 443 },
        { id: 'v6', name: 'V6', scheme: 'http', host: '::1', port: 3128 }
      ],
      groups: [{ id: 'rr', name: 'Spread', strategy: 'round-robin', members: ['a', 'b'] }],
      rules: [
        {
          id: 'w',
          enabled: true,
          matchers: [{ type: 'wildcard', value: '*.cdn?.test' }],
          action: { type: 'upstream', upstreamId: 'rr' }
        },
        {
          id: 'all',
          enabled: true,
          matchers: [
            { type: 'wildcard', value: '*' },
            { type: 'port', value: '9' }
          ],
          action: { type: 'direct' }
        },
        {
          id: 'up',
          enabled: true,
          matchers: [
            { type: 'method', value: 'post,PUT' },
            { type: 'path', value: '/upload' }
          ],
          action: { type: 'reject' }
        },
        {
          id: 'js',
          enabled: true,
          matchers: [
            { type: 'path', value: '/a/*.js' },
            { type: 'protocol', value: 'http' }
          ],
          action: { type: 'upstream', upstreamId: 'v6' }
        },
        {
          id: 'lan',
          enabled: true,
          matchers: [
            { type: 'ip', value: '192.168.0.0/16' },
            { type: 'port', value: '80,8000-8999' }
          ],
          action: { type: 'block', status: 451, body: '' }
        },
        {
          id: 'v6net',
          enabled: true,
          matchers: [
            { type: 'ip', value: 'fd00::/8' },
            { type: 'protocol', value: 'connect' }
          ],
          action: { type: 'direct' }
        },
        {
          id: 're',
          enabled: true,
          matchers: [
            { type: 'regex', value: '^(www|api)[0-9]+\\.example\\.(com|net)$' },
            { type: 'domain', value: 'example.com' }
          ],
          action: { type: 'block', status: 500, body: '' }
        }
      ],
      defaultAction: { type: 'reject' }
    }
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-squid-parse-'))
    try {
      const file = path.join(dir, 'squid.conf')
      const operational = [
        `pid_filename ${path.join(dir, 'pid')}`,
        `cache_log ${path.join(dir, 'cache.log')}`,
        'access_log none'
      ]
      await fs.writeFile(
        file,
        [`http_port 127.0.0.1:${blockedOrigin.port}`, ...operational, buildSquidConfig(rich)].join('\n')
      )
      const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
        execFile('/usr/sbin/squid', ['-k', 'parse', '-f', file], (error, stdout, stderr) =>
          resolve({ code: error ? (error.code as number) : 0, output: stdout + stderr })
        )
      })
      expect(output).toContain('Processing: deny_info TCP_RESET all')
      expect(output.split('\n').filter((line) => /WARNING|ERROR|FATAL|Bungled/i.test(line))).toEqual([])
      expect(code).toBe(0)
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  it('writes a comment, not a peer, for what Squid cannot do', () => {
    const config = buildSquidConfig(profile)
    expect(config).toContain('# upstream "Socks" not exported: Squid has no socks5 parents')
    expect(config).toMatch(/# rule "socks-only" #4: .* — not exported: "Socks": Squid has no socks5 parents/)
    expect(config).not.toContain(SQUID_AUTH.password)
    expect(config).toContain(
      `login=${encodeURIComponent(SQUID_AUTH.username)}:${encodeURIComponent(SQUID_AUTH.password)}`
    )
  })
})
