/**
 * The engine as it was before the request pipeline (Junction's own server with stage files): its
 * source at PREVIOUS_COMMIT, unpacked once into bench/.previous/<commit>/ (git-ignored). It sits inside
 * the repository so that its imports of proxy-chain and zod resolve to the same node_modules, and the
 * two engines differ only in their own code.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The last commit with the proxy-chain-listener engine (rebuilt server, listeners moved by index). */
export const PREVIOUS_COMMIT = '73cfe6c'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Unpacks the engine's tree at `commit` (default: the previous engine) if needed; returns its directory. */
export function previousTree(commit = PREVIOUS_COMMIT): string {
  const dir = fileURLToPath(new URL(`./.previous/${commit}/`, import.meta.url))
  if (existsSync(`${dir}main/engine/engine.ts`)) return dir
  const partial = `${dir.replace(/\/$/, '')}.partial/`
  rmSync(partial, { recursive: true, force: true })
  mkdirSync(partial, { recursive: true })
  const archive = execFileSync('git', ['archive', commit, 'main', 'common', 'scripts'], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024
  })
  execFileSync('tar', ['-x', '-C', partial], { input: archive })
  renameSync(partial, dir)
  return dir
}
