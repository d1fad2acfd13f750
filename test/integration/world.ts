/**
 * The real parts integration tests route through: a plain and a TLS origin (test CA), Debian squid
 * (HTTP upstream, basic auth), Debian microsocks (SOCKS5, user/password) and a proxy-chain server in
 * HTTPS mode. Everything listens on 127.0.0.1.
 */
import type { LookupFunction } from 'node:net'
import type { Profile, Upstream } from '../../common/model.ts'
import { ProxyEngine, type EngineOptions } from '../../main/engine/engine.ts'
import { createTestCa, type TestCa } from '../harness/ca.ts'
import { startHttpsUpstream } from '../harness/https-upstream.ts'
import { startMicrosocks } from '../harness/microsocks.ts'
import { startOrigin, type Origin } from '../harness/origin.ts'
import { closedPort } from '../harness/ports.ts'
import { startSquid, type Upstream as RunningUpstream } from '../harness/squid.ts'

/** Credentials with the characters that break naive URL building. */
export const SQUID_AUTH = { username: 'squid-user', password: 'p@ss:w/rd%#?' }
export const SOCKS_AUTH = { username: 'socks:user', password: 'S0cks p@ss/%' }
export const HTTPS_AUTH = { username: 'tls-user', password: 'tls@pass:%' }

export interface World {
  ca: TestCa
  origin: Origin
  tlsOrigin: Origin
  squid: RunningUpstream
  socks: RunningUpstream
  httpsUpstream: RunningUpstream
  /** A port on which nothing listens. */
  deadPort: number
  upstreams: {
    squid: Upstream
    socks5: Upstream
    socks5h: Upstream
    https: Upstream
    dead: Upstream
  }
  close(): Promise<void>
}

/**
 * Name resolution for engines under test: `localhost` is 127.0.0.1 and every other name does not
 * exist, so no test ever asks the machine's DNS resolver.
 */
export const testLookup: LookupFunction = (hostname, options, callback) => {
  const cb = (typeof options === 'function' ? options : callback) as (
    err: NodeJS.ErrnoException | null,
    address: string | { address: string; family: number }[],
    family?: number
  ) => void
  const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all
  if (hostname === 'localhost') {
    if (all) cb(null, [{ address: '127.0.0.1', family: 4 }])
    else cb(null, '127.0.0.1', 4)
    return
  }
  const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`)
  error.code = 'ENOTFOUND'
  cb(error, '', 0)
}

export async function startWorld(): Promise<World> {
  const ca = await createTestCa()
  const originCert = await ca.issue(['127.0.0.1', 'localhost'])
  const upstreamCert = await ca.issue(['127.0.0.1'])
  const [origin, tlsOrigin, squid, socks, httpsUpstream, deadPort] = await Promise.all([
    startOrigin(),
    startOrigin({ tls: originCert }),
    startSquid(SQUID_AUTH),
    startMicrosocks(SOCKS_AUTH),
    startHttpsUpstream({ ...upstreamCert, ...HTTPS_AUTH }),
    closedPort()
  ])
  const at = (
    id: string,
    scheme: Upstream['scheme'],
    port: number,
    auth: { username: string; password: string }
  ) => ({ id, name: id, scheme, host: '127.0.0.1', port, ...auth }) as Upstream
  return {
    ca,
    origin,
    tlsOrigin,
    squid,
    socks,
    httpsUpstream,
    deadPort,
    upstreams: {
      squid: at('squid', 'http', squid.port, SQUID_AUTH),
      socks5: at('socks5', 'socks5', socks.port, SOCKS_AUTH),
      socks5h: at('socks5h', 'socks5h', socks.port, SOCKS_AUTH),
      https: { ...at('https', 'https', httpsUpstream.port, HTTPS_AUTH), ca: ca.certPem },
      dead: at('dead', 'http', deadPort, SQUID_AUTH)
    },
    async close() {
      await Promise.all([
        origin.close(),
        tlsOrigin.close(),
        squid.close(),
        socks.close(),
        httpsUpstream.close()
      ])
    }
  }
}

/** A profile whose default action sends everything through one upstream. */
export function viaProfile(upstream: Upstream, extra: Partial<Profile> = {}): Profile {
  return {
    id: `via-${upstream.id}`,
    name: `Via ${upstream.name}`,
    upstreams: [upstream],
    rules: [],
    defaultAction: { type: 'upstream', upstreamId: upstream.id },
    ...extra
  }
}

export async function startEngine(options: EngineOptions = {}): Promise<ProxyEngine & { port: number }> {
  const engine = new ProxyEngine({ port: 0, lookup: testLookup, ...options })
  await engine.start()
  return engine as ProxyEngine & { port: number }
}
