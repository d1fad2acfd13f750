import { Server } from 'proxy-chain'
import type { Upstream } from './squid.ts'

export type { Upstream } from './squid.ts'

export type HttpsUpstreamOptions = { keyPem: string; certPem: string; username?: string; password?: string }

/**
 * A proxy-chain server speaking HTTPS to its clients (TLS to the proxy itself), listening on 127.0.0.1.
 * With username/password set it answers 407 unless Proxy-Authorization carries exactly those credentials.
 */
export async function startHttpsUpstream(opts: HttpsUpstreamOptions): Promise<Upstream> {
  const requireAuth = opts.username !== undefined || opts.password !== undefined
  const server = new Server({
    serverType: 'https',
    httpsOptions: { key: opts.keyPem, cert: opts.certPem },
    host: '127.0.0.1',
    port: 0,
    verbose: false,
    prepareRequestFunction: ({ username, password }) => {
      if (!requireAuth) return {}
      const ok = username === (opts.username ?? '') && password === (opts.password ?? '')
      return { requestAuthentication: !ok }
    }
  })
  // Tests probe bad TLS/auth on purpose; proxy-chain reports those as events that must not go unhandled.
  server.on('requestFailed', () => {})
  server.on('tlsError', () => {})
  await server.listen()
  const address = server.server.address()
  if (address === null || typeof address === 'string') {
    await server.close(true)
    throw new Error('startHttpsUpstream: unexpected server address')
  }
  let closing: Promise<void> | undefined
  return {
    port: address.port,
    close: () => (closing ??= server.close(true))
  }
}
