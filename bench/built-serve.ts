/**
 * Headless mode as `npm run serve` and `npm start` run it: the built entry (`out/main/serve.js`), plain
 * JavaScript, so its memory is what users get (running the sources adds Node's type stripper).
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(new URL('../out/main/serve.js', import.meta.url))

export function builtServeEntry(): string {
  if (!existsSync(ENTRY))
    throw new Error(`${path.relative(process.cwd(), ENTRY)} is missing: run npm run build first`)
  return ENTRY
}
