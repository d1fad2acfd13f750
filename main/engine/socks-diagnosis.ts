/**
 * Why did a plain-HTTP request through a SOCKS upstream fail? proxy-chain forwards those through a
 * SOCKS agent and, on failure, keeps only a generic 599 "Upstream Error", dropping the SOCKS error.
 * Junction then replays the SOCKS handshake once (failures only, bounded by a timeout) to learn the
 * reason: refused, authentication failed, timed out. The answer is the SOCKS library's message, which
 * errors.ts words for the user.
 */
import { SocksClient } from 'socks'
import type { Upstream } from '../../common/model.ts'

export async function diagnoseSocks(
  upstream: Upstream,
  target: { host: string; port: number },
  timeoutMs = 5000
): Promise<string> {
  try {
    const { socket } = await SocksClient.createConnection({
      proxy: {
        host: upstream.host,
        port: upstream.port,
        type: upstream.scheme === 'socks4' || upstream.scheme === 'socks4a' ? 4 : 5,
        ...(upstream.username !== undefined ? { userId: upstream.username } : {}),
        ...(upstream.password !== undefined ? { password: upstream.password } : {})
      },
      command: 'connect',
      destination: target,
      timeout: timeoutMs
    })
    socket.destroy()
    return 'Upstream Error'
  } catch (error) {
    return (error as Error).message
  }
}
