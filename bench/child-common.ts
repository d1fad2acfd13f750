/**
 * What the benchmark's child processes (proxy-server.ts, origin-server.ts) and the parent that drives
 * them (throughput.ts) agree on. The entry files themselves start servers when imported, so anything
 * the parent needs lives here.
 */

/** Rules in the engine variant's profile. */
export const ENGINE_RULES = 1000
/** Size of the origin's answer to every request. */
export const BODY_BYTES = 1024
/** Origin path whose answer is BULK_BYTES long, for data throughput through tunnels. */
export const BULK_PATH = '/bulk'
export const BULK_BYTES = 1024 * 1024
/** Origin path that reports how many other requests it has answered. */
export const SERVED_PATH = '/__served'

/** A child's first stdout line, once it is listening: its port, or one per server it runs. */
export function announcePort(port: number, ports: number[] = [port]): void {
  process.stdout.write(`${JSON.stringify({ port, ports })}\n`)
}

/**
 * Runs `close` once on SIGTERM, SIGINT or end of stdin, then exits. The parent holds our stdin pipe
 * open, so if it dies without killing us (SIGKILL, crash) the pipe closes and we still go away.
 */
export function exitOnSignalOrOrphan(close: () => Promise<void>): void {
  let closing = false
  const shutdown = (): void => {
    if (closing) return
    closing = true
    // A close that hangs (a stuck socket) must not keep the child alive; long enough for a profile.
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error)
        process.exit(1)
      }
    )
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
  process.stdin.on('end', shutdown)
  process.stdin.on('error', shutdown)
  process.stdin.resume()
}
