/**
 * The dashboard token kept in the data directory: the same across restarts (so the browser's cookie
 * still opens the page), new on rotation, private to the user, and never half-written.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DashboardTokenStore, TOKEN_FILE } from '../../../main/dashboard/dashboard-token.ts'

let root: string
let dataDir: string
beforeEach(async () => {
  dataDir = root = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-token-'))
})
afterEach(async () => {
  await fs.chmod(root, 0o700)
  await fs.rm(root, { recursive: true, force: true })
})

const mode = async (file: string) => (await fs.stat(file)).mode & 0o777

describe('dashboard token store', () => {
  it('makes a token once and returns the same one at every later start', async () => {
    const first = await DashboardTokenStore.open(dataDir)
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(first.problem).toBeNull()
    const again = await DashboardTokenStore.open(dataDir)
    expect(again.token).toBe(first.token)
    expect(JSON.parse(await fs.readFile(path.join(dataDir, TOKEN_FILE), 'utf8'))).toEqual({
      token: first.token,
      port: null
    })
  })

  it('keeps the file readable by its owner only, and restores that mode when it was widened', async () => {
    const store = await DashboardTokenStore.open(dataDir)
    expect(await mode(store.file)).toBe(0o600)
    await fs.chmod(store.file, 0o644)
    await DashboardTokenStore.open(dataDir)
    expect(await mode(store.file)).toBe(0o600)
    await store.rotate()
    expect(await mode(store.file)).toBe(0o600)
  })

  it('rotation gives a new token that the next start keeps, and leaves no temporary file', async () => {
    const store = await DashboardTokenStore.open(dataDir)
    const old = store.token
    const rotated = await store.rotate()
    expect(rotated).not.toBe(old)
    expect(store.token).toBe(rotated)
    expect((await DashboardTokenStore.open(dataDir)).token).toBe(rotated)
    expect(await fs.readdir(dataDir)).toEqual([TOKEN_FILE])
  })

  it('remembers the port for the next start, and keeps the token when it does', async () => {
    const store = await DashboardTokenStore.open(dataDir)
    await store.rememberPort(18_650)
    const again = await DashboardTokenStore.open(dataDir)
    expect(again.port).toBe(18_650)
    expect(again.token).toBe(store.token)
  })

  it.each([
    ['not JSON', '{"token":'],
    ['a short token', '{"token":"abc","port":1}'],
    ['a token with other characters', `{"token":"${'x'.repeat(31)} ","port":1}`],
    ['no token', '{"port":8900}']
  ])('replaces a file with %s by a new token', async (_name, text) => {
    await fs.writeFile(path.join(dataDir, TOKEN_FILE), text)
    const store = await DashboardTokenStore.open(dataDir)
    expect(store.token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(JSON.parse(await fs.readFile(store.file, 'utf8')).token).toBe(store.token)
  })

  it('ignores a saved port out of range', async () => {
    await fs.writeFile(
      path.join(dataDir, TOKEN_FILE),
      JSON.stringify({ token: 'a'.repeat(32), port: 70_000 })
    )
    const store = await DashboardTokenStore.open(dataDir)
    expect(store.token).toBe('a'.repeat(32))
    expect(store.port).toBeNull()
  })

  it('in a read-only data directory runs with a token for this run and says why it is not kept', async () => {
    if (process.getuid?.() === 0) {
      // root writes through 0500; a file in the way of the directory makes the write fail for anyone.
      dataDir = path.join(dataDir, 'file')
      await fs.writeFile(dataDir, '')
    } else await fs.chmod(dataDir, 0o500)
    const store = await DashboardTokenStore.open(dataDir)
    expect(store.token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(store.problem).toMatch(/cannot be saved/)
  })
})
