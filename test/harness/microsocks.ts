import { startChild } from './child.ts'
import { freePort, waitForPort } from './ports.ts'
import type { Upstream } from './squid.ts'

export type { Upstream } from './squid.ts'

export type MicrosocksOptions = { username: string; password: string; startTimeoutMs?: number }

const BIND_ATTEMPTS = 3

/**
 * Starts microsocks (SOCKS5, RFC 1929 username/password auth) on 127.0.0.1. microsocks takes the credentials
 * as arguments, so they are visible in a process listing for the lifetime of the test; use throwaway values.
 */
export async function startMicrosocks(opts: MicrosocksOptions): Promise<Upstream> {
  const timeoutMs = opts.startTimeoutMs ?? 10_000
  let lastError = ''
  // freePort() releases the port before microsocks binds it, so another process can occasionally win the race.
  for (let attempt = 1; attempt <= BIND_ATTEMPTS; attempt++) {
    const port = await freePort()
    const child = startChild('microsocks', [
      '-i',
      '127.0.0.1',
      '-p',
      String(port),
      '-u',
      opts.username,
      '-P',
      opts.password
    ])
    const up = waitForPort(port, timeoutMs).then(
      () => 'up' as const,
      () => 'timeout' as const
    )
    const outcome = await Promise.race([up, child.exited.then(() => 'exited' as const)])
    if (outcome === 'up' && !child.hasExited()) {
      let closing: Promise<void> | undefined
      return {
        port,
        close: () => (closing ??= child.stop(3000))
      }
    }
    await child.stop()
    lastError = `microsocks ${outcome === 'timeout' ? `did not accept connections within ${timeoutMs} ms` : `exited during startup (${await child.exited})`} (attempt ${attempt}, port ${port}): ${child.output()}`
    if (outcome === 'timeout') break
  }
  throw new Error(lastError)
}
