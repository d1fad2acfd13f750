// `npm start`: the desktop app where it can run, otherwise headless mode with one line saying why.
// Headless mode builds the app (as `npm run serve` does) and then runs in this very process (the built
// out/main/serve.js is imported), so the engine is never a child that a signal to this process could
// leave behind.
import './require-node.mjs'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(import.meta.url)

/** Why the desktop app cannot start here, or null if it can. Never triggers Electron's download. */
function desktopUnavailable() {
  let dir
  try {
    dir = path.dirname(require.resolve('electron/package.json'))
  } catch {
    return 'the electron package is not installed'
  }
  const pathFile = path.join(dir, 'path.txt')
  const binary = process.env.ELECTRON_OVERRIDE_DIST_PATH
    ? path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH, 'electron')
    : existsSync(pathFile)
      ? path.join(dir, 'dist', readFileSync(pathFile, 'utf8'))
      : null
  if (!binary || !existsSync(binary)) return 'the Electron runtime is not installed'
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY)
    return 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)'
  return null
}

/** The desktop app: Electron is a separate runtime, so it runs as a child that follows our signals. */
function run(command, args) {
  const child = spawn(command, args, { stdio: 'inherit', shell: process.platform === 'win32' })
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
}

const reason = desktopUnavailable()
if (reason) {
  console.log(`Junction: cannot open the desktop app because ${reason}; starting headless mode instead.`)
  const build = spawnSync(
    process.execPath,
    [
      path.join(path.dirname(require.resolve('electron-vite/package.json')), 'bin/electron-vite.js'),
      'build',
      '--logLevel',
      'warn'
    ],
    { stdio: 'inherit' }
  )
  if (build.status !== 0) process.exit(build.status ?? 1)
  // serve.js reads process.argv.slice(2): the arguments given to this script.
  await import('../out/main/serve.js')
} else {
  run(process.platform === 'win32' ? 'npx.cmd' : 'npx', [
    'electron-vite',
    'preview',
    '--',
    ...process.argv.slice(2)
  ])
}
