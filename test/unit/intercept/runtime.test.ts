/**
 * The runtime hands its local CA to the engine: starting creates no CA, and the first tunnel a rule
 * intercepts creates `<data dir>/ca/` and is served a leaf that a client trusting
 * `junction-ca.pem` accepts. (The target here has a certificate from an authority Junction does not
 * trust, so the answer is Junction's own readable 502 — reached only after the client's handshake
 * with the leaf succeeded.)
 */
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Profile } from '../../../common/model.ts'
import { startRuntime, type Runtime } from '../../../main/app/runtime.ts'
import { createTestCa, type TestCa } from '../../harness/ca.ts'
import { httpsGetViaProxy } from '../../harness/client.ts'
import { startOrigin, type Origin } from '../../harness/origin.ts'

const INSPECT: Profile = {
  id: 'inspect',
  name: 'Inspect',
  upstreams: [],
  rules: [
    {
      id: 'local',
      enabled: true,
      matchers: [{ type: 'host', value: 'localhost' }],
      action: { type: 'direct' },
      intercept: true
    }
  ],
  defaultAction: { type: 'direct' }
}

let dataDir: string
let runtime: Runtime
let origin: Origin
let originCa: TestCa

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-ca-runtime-'))
  await fs.writeFile(path.join(dataDir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [INSPECT] }))
  originCa = await createTestCa()
  origin = await startOrigin({ tls: await originCa.issue(['localhost']) })
  runtime = await startRuntime({
    dataDir,
    port: 0,
    profile: 'inspect',
    systemProxy: 'off',
    log: () => undefined
  })
})
afterAll(async () => {
  await runtime?.stop()
  await origin?.close()
  await fs.rm(dataDir, { recursive: true, force: true })
})

describe('the runtime’s local CA', () => {
  it('is created by the first intercepted tunnel and signs the leaf the client is served', async () => {
    expect(existsSync(path.join(dataDir, 'ca'))).toBe(false)
    const state = runtime.engine.state
    if (state.status !== 'running') throw new Error(`engine is ${state.status}`)
    // A client has no way to trust a CA that does not exist yet: the first handshake fails, and
    // creates the CA on the way.
    await expect(
      httpsGetViaProxy(state.port, 'localhost', origin.port, '/echo', originCa.certPem)
    ).rejects.toThrow(/TLS handshake .* failed|closed during the TLS handshake/)
    const pem = await fs.readFile(path.join(dataDir, 'ca', 'junction-ca.pem'), 'utf8')
    expect(pem).toBe(runtime.authority.certificatePem)

    const res = await httpsGetViaProxy(state.port, 'localhost', origin.port, '/echo', pem)
    expect(res.status).toBe(502)
    expect(res.headers['x-junction-error']).toBe('target-certificate-invalid')
    expect(origin.requests).toHaveLength(0)
  })

  it('trusts the CAs in settings.json (trustedCas) for intercepted targets', async () => {
    const otherDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-ca-trusted-'))
    await fs.writeFile(
      path.join(otherDir, 'profiles.json'),
      JSON.stringify({ version: 1, profiles: [INSPECT] })
    )
    await fs.writeFile(
      path.join(otherDir, 'settings.json'),
      JSON.stringify({ version: 1, trustedCas: [originCa.certPem] })
    )
    const trusting = await startRuntime({
      dataDir: otherDir,
      port: 0,
      profile: 'inspect',
      systemProxy: 'off',
      log: () => undefined
    })
    try {
      const state = trusting.engine.state
      if (state.status !== 'running') throw new Error(`engine is ${state.status}`)
      await trusting.authority.ensure()
      const res = await httpsGetViaProxy(
        state.port,
        'localhost',
        origin.port,
        '/echo',
        trusting.authority.certificatePem
      )
      expect(res.status).toBe(200)
      expect(origin.requests).toHaveLength(1)
    } finally {
      await trusting.stop()
      await fs.rm(otherDir, { recursive: true, force: true })
    }
  })
})
