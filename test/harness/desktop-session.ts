/**
 * A private desktop session for system-proxy tests: a temporary HOME and XDG_CONFIG_HOME, and its own
 * D-Bus session bus so that gsettings writes go to that HOME's dconf database and nowhere else.
 */
import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface DesktopSession {
  home: string
  env: NodeJS.ProcessEnv
  close(): Promise<void>
}

export async function startDesktopSession(desktop: 'GNOME' | 'KDE'): Promise<DesktopSession> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-desktop-'))
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CURRENT_DESKTOP: desktop
  }
  delete base.KDE_SESSION_VERSION
  const daemon = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], {
    env: base,
    stdio: ['ignore', 'pipe', 'ignore']
  })
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('dbus-daemon did not print its address within 5 s')),
      5000
    )
    daemon.once('error', reject)
    daemon.stdout!.once('data', (chunk: Buffer) => {
      clearTimeout(timer)
      resolve(chunk.toString().trim())
    })
  })
  return {
    home,
    env: { ...base, DBUS_SESSION_BUS_ADDRESS: address },
    async close() {
      daemon.kill()
      await new Promise((resolve) =>
        daemon.exitCode !== null ? resolve(null) : daemon.once('exit', resolve)
      )
      await fs.rm(home, { recursive: true, force: true })
    }
  }
}
