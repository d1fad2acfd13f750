/**
 * How long reading an import and writing an export take at the sizes the contract allows (5 MiB):
 * CPU time on the thread that does it — a worker for imports in headless mode, the main thread (and
 * so a stall for traffic) for exports and for imports in the desktop build.
 * Run: `node bench/import-size.ts` (one run, figures printed; nothing is compared).
 */
import { parse } from 'yaml'
import type { Profile } from '../common/model.ts'
import { buildProfilePac } from '../main/transfer/export-pac.ts'
import { buildSquidConfig } from '../main/transfer/export-squid.ts'
import { readImport } from '../main/transfer/import-file.ts'

function time<T>(label: string, bytes: number, run: () => T): T {
  const start = performance.now()
  const value = run()
  const ms = performance.now() - start
  console.log(
    `${label.padEnd(52)} ${(bytes / 1024 / 1024).toFixed(2).padStart(5)} MiB ${ms.toFixed(0).padStart(6)} ms`
  )
  return value
}

function imported(label: string, text: string): Profile {
  const result = time(label, text.length, () => readImport(text))
  if (!result.ok) throw new Error(`${label}: ${result.error.message}`)
  return result.value.profiles[0]!
}

const clashRules = (n: number) =>
  `proxies:\n  - {name: p, type: http, server: 127.0.0.1, port: 3128}\nrules:\n${Array.from(
    { length: n },
    (_, i) => `  - DOMAIN-SUFFIX,d${i}.example.com,${i % 2 ? 'p' : 'DIRECT'}`
  ).join('\n')}\n`
const omega = (n: number) =>
  JSON.stringify({
    '+p': {
      profileType: 'FixedProfile',
      name: 'p',
      fallbackProxy: { scheme: 'http', host: '127.0.0.1', port: 3128 }
    },
    '+sw': {
      profileType: 'SwitchProfile',
      name: 'sw',
      defaultProfileName: 'direct',
      rules: Array.from({ length: n }, (_, i) => ({
        condition: { conditionType: 'HostWildcardCondition', pattern: `*.s${i}.example.com` },
        profileName: i % 2 ? 'p' : 'direct'
      }))
    }
  })

imported('Clash, 10,000 DOMAIN-SUFFIX rules', clashRules(10_000))
const big = imported('Clash, 100,000 DOMAIN-SUFFIX rules', clashRules(100_000))
imported(
  'Clash, 100,000 GEOIP rules (all skipped)',
  `rules:\n${Array.from({ length: 100_000 }, (_, i) => `  - GEOIP,C${i},DIRECT`).join('\n')}\n`
)
imported('SwitchyOmega, 10,000 host wildcard rules', omega(10_000))
imported('SwitchyOmega, 50,000 host wildcard rules', omega(50_000))

const nested = `rules: ${'['.repeat(1_000_000)}`
time('1 MB of "[": refused before the YAML parser', nested.length, () => readImport(nested))
time('the same text given to the YAML parser', nested.length, () => {
  try {
    parse(nested)
  } catch {
    // Refused as malformed, after the time measured.
  }
})

const pac = time('PAC export of the 100,000-rule profile', 0, () => buildProfilePac(big))
console.log(`  PAC size ${(pac.length / 1024 / 1024).toFixed(2)} MiB`)
const squid = time('Squid export of the 100,000-rule profile', 0, () => buildSquidConfig(big))
console.log(`  Squid configuration size ${(squid.length / 1024 / 1024).toFixed(2)} MiB`)
