/**
 * Import and export through the contract (`dispatch`, as IPC and the dashboard call it) on a real
 * headless runtime, and `npm run serve -- --import FILE` as a real process.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  SECRET_PLACEHOLDER,
  type AppApi,
  type ImportPreview,
  type ImportSummary
} from '../../common/ipc-contract.ts'
import type { Profile } from '../../common/model.ts'
import type { Result } from '../../common/result.ts'
import { startRuntime, type Runtime } from '../../main/app/runtime.ts'
import { ProfileStore } from '../../main/profiles/profile-store.ts'
import { dispatch } from '../../main/services/dispatch.ts'
import { readImport, saveImported } from '../../main/transfer/import-file.ts'
import { readImportInWorker } from '../../main/transfer/read-in-worker.ts'
import { proxyGet } from '../harness/client.ts'
import { startOrigin } from '../harness/origin.ts'
import { killIfRunning, serve, type Running } from '../harness/headless-process.ts'

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/import')
const clash = () => fs.readFile(path.join(FIXTURES, 'clash.yaml'), 'utf8')

let dataDir: string
let app: Runtime
let api: AppApi

const call = async <T>(name: string, ...args: unknown[]): Promise<T> => {
  const result = (await dispatch(api, name, args)) as Result<T>
  if (!result.ok) throw new Error(`${name}: ${result.error.message}`)
  return result.value
}

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-transfer-'))
  app = await startRuntime({ dataDir, port: 0, log: () => undefined })
  api = app.service
}, 30_000)
afterAll(async () => {
  await app?.stop()
  await fs.rm(dataDir, { recursive: true, force: true })
})

describe('import and export through the contract', () => {
  it('previews without saving and without showing passwords', async () => {
    const preview = await call<ImportPreview>('previewImport', await clash(), 'clash.yaml')
    expect(preview.format).toBe('clash')
    expect(preview.profiles[0]!.upstreams.map((u) => u.password)).toEqual([
      SECRET_PLACEHOLDER,
      SECRET_PLACEHOLDER,
      SECRET_PLACEHOLDER
    ])
    expect(JSON.stringify(preview)).not.toContain('fixture-pass')
    expect((await call<Profile[]>('listProfiles')).map((p) => p.name)).toEqual(['Direct'])
  })

  it('imports as new profiles, twice without clashing names, keeping passwords in the store', async () => {
    const first = await call<ImportSummary>('importProfiles', await clash(), 'clash.yaml')
    const second = await call<ImportSummary>('importProfiles', await clash(), 'clash.yaml')
    expect(first.profiles[0]!.name).toBe('Clash (clash.yaml)')
    expect(second.profiles[0]!.name).toBe('Clash (clash.yaml) (2)')
    expect(second.profiles[0]!.id).not.toBe(first.profiles[0]!.id)
    expect(second.skipped.find((s) => s.what === 'GEOIP rules')?.count).toBe(1)
    const stored = app.profiles.get(first.profiles[0]!.id)!
    expect(stored.upstreams[0]!.password).toBe('fixture-pass')
    // Saved to disk: a fresh store reads both.
    const onDisk = JSON.parse(await fs.readFile(path.join(dataDir, 'profiles.json'), 'utf8')) as {
      profiles: Profile[]
    }
    expect(onDisk.profiles.map((p) => p.name)).toEqual(['Clash (clash.yaml)', 'Clash (clash.yaml) (2)'])
  })

  it('refuses what it cannot read, and oversized text, saving nothing', async () => {
    const before = (await call<Profile[]>('listProfiles')).length
    const unknown = await dispatch(api, 'importProfiles', ['just words', 'notes.txt'])
    expect(unknown).toMatchObject({ ok: false, error: { code: 'invalid-input' } })
    const huge = await dispatch(api, 'previewImport', ['x'.repeat(5 * 1024 * 1024 + 1)])
    expect(huge).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('larger than 5 MiB') }
    })
    expect((await call<Profile[]>('listProfiles')).length).toBe(before)
  })

  it('exports PAC and Squid text for a profile, and a backup with passwords only when asked', async () => {
    const id = (await call<Profile[]>('listProfiles'))[1]!.id
    expect(await call<string>('exportProfile', id, 'pac')).toContain('function FindProxyForURL(url, host)')
    expect(await call<string>('exportProfile', id, 'squid')).toContain('cache_peer 127.0.0.1 parent 3128 0')
    expect(await dispatch(api, 'exportProfile', ['nope', 'pac'])).toMatchObject({
      ok: false,
      error: { code: 'not-found' }
    })
    expect(await dispatch(api, 'exportProfile', [id, 'wpad'])).toMatchObject({
      ok: false,
      error: { code: 'invalid-input' }
    })
    const without = await call<string>('exportBackup', { includePasswords: false })
    const withPasswords = await call<string>('exportBackup', { includePasswords: true })
    expect(without).not.toContain('fixture-pass')
    expect(withPasswords).toContain('fixture-pass')
    // The backup goes back in through the same import.
    const restored = await call<ImportPreview>('previewImport', withPasswords, 'junction-backup.json')
    expect(restored.format).toBe('junction')
    expect(restored.profiles.map((p) => p.name)).toEqual([
      'Clash (clash.yaml) (3)',
      'Clash (clash.yaml) (2) (2)'
    ])
  })
})

describe('reading a large import', () => {
  const clashRules = (n: number) =>
    `rules:\n${Array.from({ length: n }, (_, i) => `  - DOMAIN-SUFFIX,d${i}.example.com,DIRECT`).join('\n')}\n`

  it('happens off the proxy’s thread: a request through the proxy is answered while it runs', async () => {
    const origin = await startOrigin()
    try {
      const state = app.engine.state
      if (state.status !== 'running') throw new Error('the proxy is not running')
      const text = clashRules(100_000) // 4 MiB: seconds of parsing
      let importDone = 0
      const started = performance.now()
      const importing = call<ImportPreview>('previewImport', text, 'big.yaml').then((preview) => {
        importDone = performance.now()
        return preview
      })
      // Give the worker time to start parsing, then ask the proxy for something.
      await new Promise((resolve) => setTimeout(resolve, 300))
      const asked = performance.now()
      const response = await proxyGet(state.port, `${origin.url}/echo`)
      const answered = performance.now()
      expect(response.status).toBe(200)
      const preview = await importing
      expect(preview.summary.profiles[0]!.rules).toBe(100_000)
      // Read on this thread, the request would wait for the whole import (about 2–5 s here).
      expect(importDone).toBeGreaterThan(answered)
      expect(answered - asked).toBeLessThan(1000)
      console.log(
        `[transfer] 100,000-rule import read in ${Math.round(importDone - started)} ms; a request during it took ${Math.round(answered - asked)} ms`
      )
    } finally {
      await origin.close()
    }
  }, 60_000)

  it('gives up after its time limit, importing nothing', async () => {
    const result = await readImportInWorker(clashRules(50_000), 'big.yaml', [], { timeoutMs: 50 })
    expect(result).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('took longer than') }
    })
  })
})

describe('saving an import', () => {
  it('saves all profiles or none: a later failure removes those already written', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-import-save-'))
    try {
      const { store } = await ProfileStore.open(dir)
      const read = readImport(await clash(), 'clash.yaml')
      if (!read.ok) throw new Error(read.error.message)
      const [first] = read.value.profiles
      // The store refuses to overwrite the built-in Direct profile: a real failure on the second save.
      const result = await saveImported(store, [first!, { ...first!, id: 'direct', name: 'Other' }])
      expect(result).toMatchObject({ ok: false, error: { code: 'read-only' } })
      expect(store.list().map((p) => p.id)).toEqual(['direct'])
      const { store: reopened } = await ProfileStore.open(dir)
      expect(reopened.list().map((p) => p.id)).toEqual(['direct'])
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})

describe('npm run serve -- --import FILE', () => {
  let running: Running | null = null
  let dir: string
  afterEach(async () => {
    await killIfRunning(running)
    running = null
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('imports before the proxy starts, prints the summary, and can start with the imported profile', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-import-cli-'))
    running = serve([
      '--port',
      '0',
      '--no-dashboard',
      '--data-dir',
      dir,
      '--import',
      path.join(FIXTURES, 'switchyomega.bak'),
      '--profile',
      'auto switch'
    ])
    await running.waitFor(/proxy listening on .* — profile "auto switch"/, 20_000)
    const lines = running.lines.join('\n')
    expect(lines).toContain('[junction] imported 3 profile(s) from a switchyomega file:')
    expect(lines).toMatch(/"auto switch": 2 upstream\(s\), 0 group\(s\), 10 rule\(s\)/)
    expect(lines).toMatch(/1 × PAC-script profiles, e\.g\. Work PAC/)
    expect(lines).not.toContain('fixture-pass')
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
  }, 30_000)

  it('does not start when the file cannot be imported', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-import-cli-'))
    const file = path.join(dir, 'notes.txt')
    await fs.writeFile(file, 'just words')
    running = serve(['--port', '0', '--no-dashboard', '--data-dir', dir, '--import', file])
    expect(await running.exited).toBe(1)
    expect(running.lines.join('\n')).toMatch(/--import: "notes\.txt" is not a format Junction can import/)
    expect(running.lines.join('\n')).not.toContain('proxy listening')
  }, 30_000)
})
