/**
 * Headless Junction notices that whatever launched it is gone, including through npm's `sh -c`:
 * real shells and processes, arranged as npm arranges them (launcher → sh → node).
 */
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { parentOf } from '../../../main/lifecycle/launcher-watch.ts'

const WATCH = new URL('../../../main/lifecycle/launcher-watch.ts', import.meta.url).pathname

/** A node process that prints `watching` once it watches its launcher and `gone` when it is gone. */
const CHILD = `
const { watchLauncher } = await import(${JSON.stringify(WATCH)})
watchLauncher(() => { console.log('gone'); process.exit(0) }, { intervalMs: 50 })
console.log('watching')
setTimeout(() => { console.log('timeout'); process.exit(1) }, 3000)
`

/**
 * `sh -c 'sh -c "node …"; true'`: the outer shell stands for npm, the inner one for npm's script
 * shell (which forks node rather than exec it). Resolves with node's output once the outer is killed.
 */
async function killLauncher(env: NodeJS.ProcessEnv): Promise<string> {
  // `; true` keeps each shell from replacing itself with its command.
  const inner = `"${process.execPath}" --input-type=module -e "$CHILD"; true`
  const launcher = spawn('sh', ['-c', `sh -c '${inner}'; true`], {
    env: { ...env, CHILD },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  const watching = new Promise<void>((resolve) =>
    launcher.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('watching')) resolve()
    })
  )
  await watching
  launcher.kill('SIGKILL')
  // Node's output still arrives through the pipe it inherited; it closes when node exits.
  await new Promise((resolve) => launcher.stdout.once('end', resolve))
  return out
}

describe('watchLauncher', () => {
  it('reads a parent from /proc', () => {
    expect(parentOf(process.pid)).toBe(process.ppid)
    expect(parentOf(2 ** 22 + 1)).toBeNull()
  })

  it('under npm, a killed launcher is noticed through the shell in between', async () => {
    const out = await killLauncher({ ...process.env, npm_lifecycle_event: 'serve' })
    expect(out.split('\n').filter(Boolean)).toEqual(['watching', 'gone'])
  })

  it('outside npm only the parent is watched: the shell is still there, so Junction keeps running', async () => {
    const env = { ...process.env }
    delete env.npm_lifecycle_event
    const out = await killLauncher(env)
    expect(out.split('\n').filter(Boolean)).toEqual(['watching', 'timeout'])
  }, 10_000)
})
