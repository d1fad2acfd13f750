/**
 * Headless mode as `npm run serve` and `npm start` run it: the built entry (`out/main/serve.js`), plain
 * JavaScript, so its memory is what users get (running the sources adds Node's type stripper), and the
 * Node flags those scripts give it (package.json).
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(new URL('../out/main/serve.js', import.meta.url))

export function builtServeEntry(): string {
  if (!existsSync(ENTRY))
    throw new Error(`${path.relative(process.cwd(), ENTRY)} is missing: run npm run build first`)
  return ENTRY
}

/** The Node flags `npm run serve` starts the built entry with (package.json's `serve` script). */
export function servedNodeFlags(): string[] {
  const scripts = (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>
    }
  ).scripts
  const flags = /\bnode ((?:--\S+ )*)out\/main\/serve\.js\b/.exec(scripts.serve ?? '')
  if (!flags) throw new Error('package.json: the serve script does not run node … out/main/serve.js')
  return flags[1]!.split(' ').filter(Boolean)
}

/** This process's environment with `pairs` ("NAME=value NAME2=value2") added: a variant to compare. */
export function environmentWith(pairs: string): NodeJS.ProcessEnv {
  const added = pairs
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=')
      if (at < 1) throw new Error(`"${pair}" is not NAME=value`)
      return [pair.slice(0, at), pair.slice(at + 1)]
    })
  return { ...process.env, ...Object.fromEntries(added) }
}
