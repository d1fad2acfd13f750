import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkDataDir } from '../../../main/config/data-dir.ts'

let dir: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-data-dir-'))
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

describe('checkDataDir', () => {
  it('creates a missing directory and leaves no probe behind', async () => {
    const target = path.join(dir, 'a', 'Junction')
    expect(await checkDataDir(target)).toEqual({ usable: 'read-write' })
    expect((await fs.stat(target)).isDirectory()).toBe(true)
    expect(await fs.readdir(target)).toEqual([])
  })

  it('a file, or a path under one, is not usable, with one message naming it', async () => {
    const file = path.join(dir, 'file')
    await fs.writeFile(file, 'x')
    for (const target of [file, path.join(file, 'sub')])
      expect(await checkDataDir(target)).toEqual({
        usable: 'no',
        message: `the data directory ${target} is not a directory (it is a file, or lies under one): pass --data-dir with a folder, or move that file away`
      })
    expect(await fs.readFile(file, 'utf8')).toBe('x')
  })

  // sysfs refuses new files even to root, where chmod would not: a readable, unwritable directory.
  it('a directory that refuses writes, even to root, is read-only and still readable', async () => {
    expect(await checkDataDir('/sys/kernel')).toEqual({
      usable: 'read-only',
      reason: expect.stringMatching(/^(EACCES|EPERM|EROFS)/),
      readable: true
    })
  })
})
