/**
 * Child process for the interception benchmark: the engine with a local CA in a fresh data directory
 * (BENCH_DATA_DIR) and one rule intercepting every `*.bench.test` host, which resolve to 127.0.0.1;
 * targets are verified against the benchmark origin's CA (BENCH_ORIGIN_CA, a PEM file). Everything
 * else, `127.0.0.1` included, is tunnelled as is. Prints its port once listening.
 */
import { readFileSync } from 'node:fs'
import type { LookupFunction } from 'node:net'
import { ProxyEngine } from '../main/engine/engine.ts'
import { LocalAuthority } from '../main/intercept/authority.ts'
import { announcePort, exitOnSignalOrOrphan } from './child-common.ts'

const dataDir = process.env.BENCH_DATA_DIR
const originCa = process.env.BENCH_ORIGIN_CA
if (!dataDir || !originCa) throw new Error('intercept-server needs BENCH_DATA_DIR and BENCH_ORIGIN_CA')

/** `*.bench.test` is this machine; nothing else is looked up (the resolver is off this machine). */
const lookup: LookupFunction = (hostname, options, callback) => {
  const done = (typeof options === 'function' ? options : callback) as (
    error: NodeJS.ErrnoException | null,
    address: string | { address: string; family: number }[],
    family?: number
  ) => void
  if (!hostname.endsWith('.bench.test') && hostname !== 'localhost')
    return done(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0)
  if (typeof options === 'object' && (options as { all?: boolean }).all)
    done(null, [{ address: '127.0.0.1', family: 4 }])
  else done(null, '127.0.0.1', 4)
}

const authority = LocalAuthority.open(dataDir)
await authority.ensure()
const engine = new ProxyEngine({
  port: 0,
  lookup,
  authority,
  trustedCas: [readFileSync(originCa, 'utf8')],
  profile: {
    id: 'bench',
    name: 'Bench',
    upstreams: [],
    rules: [
      {
        id: 'inspect',
        enabled: true,
        matchers: [{ type: 'domain', value: 'bench.test' }],
        action: { type: 'direct' },
        intercept: true
      }
    ],
    defaultAction: { type: 'direct' }
  }
})
engine.on('failure', (error) => console.error(`engine failure: ${error.message}`))
await engine.start()
exitOnSignalOrOrphan(() => engine.stop())
announcePort(engine.port!)
