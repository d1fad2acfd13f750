/**
 * The one place Junction relies on proxy-chain beyond its documented options: CONNECT tunnels through
 * HTTP and HTTPS upstream proxies (CONNECT inside CONNECT) are handed to a proxy-chain `Server` that
 * never listens, through its public `onConnect(request, socket, head)` method, and the upstream comes
 * back from `prepareRequestFunction` as `upstreamProxyUrl`. (SOCKS tunnels are opened by Junction
 * itself, upstream-connect.ts: proxy-chain 3.0.1's SOCKS path ignores `dnsLookup` and, when the client
 * leaves during the SOCKS handshake, never closes the target socket.)
 *
 * `onConnect` reads only `url`, `method`, `httpVersion`, `headers` and `socket` of the request, so a
 * CONNECT head Junction read itself (connect-head.ts: a plain object with those) is handed over as it
 * is; test/integration/engine.test.ts (via Squid) tunnels such heads through it, with the right and a
 * wrong password.
 *
 * Two behaviours of proxy-chain 3.0.1 are relied upon, and test/integration/proxy-chain-pin.test.ts
 * fails if an upgrade changes either:
 * - `onConnect` answers the client itself: `200 Connection Established`, or a raw error reply with
 *   one of its own statuses (590–599) written with `socket.end(text)`;
 * - the tunnel's sockets close each other, so destroying the client's socket ends the upstream one
 *   (before the upstream has answered too, which test/reliability/faults.test.ts checks).
 * The raw 59x replies are reworded into Junction's readable errors by wrapping that one socket's
 * `end` before the hand-over; nothing else of proxy-chain is touched. proxy-chain only *ends* the other
 * socket when one closes, which leaves it half-open forever if the far side never closes its own: the
 * documented `tunnelConnectResponded` event hands over the upstream socket, and the engine closes the
 * pair together from there (closeTogether, direct-tunnel.ts).
 */
import type { LookupFunction, Socket } from 'node:net'
import { Server, type PrepareRequestFunctionResult } from 'proxy-chain'
import type { TunnelRequest } from './connect-head.ts'
import { parseRawStatus, rawErrorResponse, replyForProxyChainStatus, type FailureContext } from './errors.ts'
import type { UpstreamConnector } from './upstream-connect.ts'
import type { Reply } from '../stats/traffic-stats.ts'

/** What the engine hears back about one tunnel handed to proxy-chain. */
export interface Handover {
  told: (reply: Reply) => void
  /** The upstream accepted the CONNECT; `upstream` is the socket to it. */
  opened: (upstream: Socket) => void
}

export class UpstreamTunnels {
  private readonly chain: Server
  /** The upstream decided for each CONNECT handed over, read back by prepareRequestFunction. */
  private readonly decided = new WeakMap<TunnelRequest, PrepareRequestFunctionResult>()

  constructor(onUnexpected: (error: Error) => void) {
    this.chain = new Server({
      // Junction has authenticated the client already; this only passes the decided upstream on.
      prepareRequestFunction: ({ request }) => this.decided.get(request),
      authRealm: 'Junction'
    })
    this.chain.on('requestFailed', ({ error }: { error: Error }) => onUnexpected(error))
    // Documented event; `customTag` is the handover's own callbacks, passed through prepareRequestFunction.
    this.chain.on(
      'tunnelConnectResponded',
      ({ customTag, socket }: { customTag: Handover; socket: Socket }) => customTag.opened(socket)
    )
  }

  /**
   * Opens a tunnel for `request` through `upstream`. `told` learns what the client was answered when
   * it was an error; `opened` hears that the upstream accepted the CONNECT.
   */
  open(
    request: TunnelRequest,
    socket: Socket,
    head: Buffer,
    upstream: UpstreamConnector,
    lookup: LookupFunction | undefined,
    failure: FailureContext,
    handover: Handover
  ): void {
    this.decided.set(request, {
      customTag: handover,
      upstreamProxyUrl: upstream.url,
      ...(upstream.httpsAgent ? { httpsAgent: upstream.httpsAgent } : {}),
      ...(lookup ? { dnsLookup: lookup as never } : {})
    })
    // Junction's own credentials are not proxy-chain's business (it would parse them again).
    delete request.headers['proxy-authorization']
    rewordErrors(socket, failure, handover.told)
    void this.chain.onConnect(request as never, socket as never, head)
  }
}

/** Rewrites the raw 59x reply proxy-chain may end `socket` with into Junction's readable one. */
function rewordErrors(socket: Socket, failure: FailureContext, told: (reply: Reply) => void): void {
  const end = socket.end
  socket.end = function (this: Socket, ...args: unknown[]) {
    const [chunk] = args
    const parsed = typeof chunk === 'string' ? parseRawStatus(chunk) : null
    if (parsed && !parsed.junction) {
      const reply = replyForProxyChainStatus(parsed.status, parsed.text, failure)
      told(reply ? { status: reply.status, code: reply.code } : { status: parsed.status, code: null })
      if (reply) return (end as (text: string) => Socket).call(this, rawErrorResponse(reply))
    }
    return (end as (...a: unknown[]) => Socket).apply(this, args)
  } as typeof socket.end
}
