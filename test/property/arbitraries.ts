/**
 * Generators shared by the property tests: valid documents to start from, and ways to break them.
 * Valid ones are built field by field, so a failing case shrinks to the field that matters.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { DEFAULT_SETTINGS, type Settings } from '../../common/model.ts'

/**
 * Any JSON value, small: what a hand edit, a bad merge or another program could leave in a field.
 * Passed once through JSON text, because fast-check's JSON values include -0, which a file cannot
 * hold (it reads back as 0), and a test comparing a file with its source would fail on the generator.
 */
export const anyJson = fc
  .jsonValue({ maxDepth: 3 })
  .map((value) => JSON.parse(JSON.stringify(value)) as unknown)

export const validSettings: fc.Arbitrary<Settings> = fc.record({
  listenHost: fc.constantFrom('127.0.0.1', '::1', 'localhost'),
  port: fc.integer({ min: 0, max: 65535 }),
  proxyAuth: fc.option(
    fc.record({
      username: fc.string({ minLength: 1, maxLength: 20 }),
      password: fc.string({ minLength: 8, maxLength: 20 })
    }),
    { nil: null }
  ),
  activeProfileId: fc.stringMatching(/^[a-z0-9_-]{1,12}$/),
  requestLogFile: fc.boolean(),
  systemProxy: fc.record({
    mode: fc.constantFrom('off', 'manual', 'pac'),
    socks: fc.boolean(),
    bypass: fc.array(fc.domain(), { maxLength: 3 }),
    guard: fc.constantFrom('reapply', 'yield')
  }),
  timeouts: fc.record({
    connectSeconds: fc.integer({ min: 1, max: 600 }),
    responseHeadersSeconds: fc.integer({ min: 1, max: 3600 }),
    idleTunnelSeconds: fc.integer({ min: 10, max: 86400 }),
    idleClientSeconds: fc.integer({ min: 5, max: 3600 })
  }),
  via: fc.boolean(),
  trustedCas: fc.constant([]),
  desktop: fc.record({ startAtLogin: fc.boolean(), startMinimized: fc.boolean(), closeToTray: fc.boolean() })
}) satisfies fc.Arbitrary<typeof DEFAULT_SETTINGS>

/** Every leaf a user can set in settings.json, as a path. */
export const SETTINGS_LEAVES: readonly (readonly string[])[] = Object.entries(DEFAULT_SETTINGS).flatMap(
  ([key, value]) =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && key !== 'proxyAuth'
      ? Object.keys(value).map((sub) => [key, sub])
      : [[key]]
)

const id = fc.stringMatching(/^[a-z0-9]{1,6}$/)

const matcher = fc.oneof(
  fc.record({ type: fc.constantFrom('host', 'domain'), value: fc.domain() }),
  fc.record({ type: fc.constant('port'), value: fc.integer({ min: 1, max: 65535 }).map(String) }),
  fc.record({ type: fc.constant('protocol'), value: fc.constantFrom('http', 'connect') }),
  fc.record({ type: fc.constant('ip'), value: fc.ipV4().map((ip) => `${ip}/32`) })
)

/** A valid rule; `upstreamIds` are the ones it may route to. */
export function validRule(upstreamIds: readonly string[]) {
  const actions: fc.Arbitrary<object>[] = [
    fc.constant({ type: 'direct' }),
    fc.constant({ type: 'reject' }),
    fc.record({
      type: fc.constant('block'),
      status: fc.integer({ min: 400, max: 589 }),
      body: fc.string({ maxLength: 20 })
    })
  ]
  if (upstreamIds.length > 0)
    actions.push(fc.record({ type: fc.constant('upstream'), upstreamId: fc.constantFrom(...upstreamIds) }))
  return fc.record(
    {
      id: id.map((s) => `r-${s}`),
      name: fc.string({ maxLength: 20 }),
      enabled: fc.boolean(),
      matchers: fc.array(matcher, { minLength: 1, maxLength: 3 }),
      action: fc.oneof(...actions)
    },
    { requiredKeys: ['id', 'enabled', 'matchers', 'action'] }
  )
}

const upstream = fc.record(
  {
    id: id.map((s) => `u-${s}`),
    name: fc.string({ minLength: 1, maxLength: 20 }),
    scheme: fc.constantFrom('http', 'https', 'socks5', 'socks5h'),
    host: fc.domain(),
    port: fc.integer({ min: 1, max: 65535 }),
    username: fc.stringMatching(/^[a-z]{1,8}$/),
    password: fc.string({ maxLength: 20 })
  },
  { requiredKeys: ['id', 'name', 'scheme', 'host', 'port'] }
)

/** A valid profile: unique upstream and rule ids, every upstream reference resolves. */
export const validProfile = fc
  .tuple(
    id.map((s) => `p-${s}`),
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.uniqueArray(upstream, { selector: (u) => u.id, maxLength: 2 })
  )
  .chain(([profileId, name, upstreams]) =>
    fc.record({
      id: fc.constant(profileId),
      name: fc.constant(name),
      upstreams: fc.constant(upstreams),
      rules: fc.uniqueArray(validRule(upstreams.map((u) => u.id)), { selector: (r) => r.id, maxLength: 4 }),
      defaultAction: fc.constant({ type: 'direct' })
    })
  )

/** `doc` with the value at path `at` replaced; objects are copied, never changed in place. */
export function setAt(doc: unknown, at: readonly (string | number)[], value: unknown): unknown {
  if (at.length === 0) return value
  const [head, ...rest] = at
  const base = (Array.isArray(doc) ? [...(doc as unknown[])] : { ...(doc as object) }) as Record<
    string | number,
    unknown
  >
  base[head!] = setAt(base[head!], rest, value)
  return base
}

/** Every file under `dir` with its bytes. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of await fs.readdir(dir, { recursive: true })) {
    const file = path.join(dir, name)
    if ((await fs.stat(file)).isFile()) out[name] = await fs.readFile(file, 'utf8')
  }
  return out
}
