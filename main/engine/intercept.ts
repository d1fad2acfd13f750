/**
 * Interception of CONNECT tunnels whose rule asks for it (`intercept: true`), and nothing else.
 *
 * The client is told `200 Connection Established` at once, then its first bytes decide, as goproxy's
 * hijacked CONNECT does:
 * - a TLS handshake (first byte 0x16) is answered with a leaf certificate from Junction's local CA for
 *   the name the client asked for (SNI, else the CONNECT host), offering only HTTP/1.1 by ALPN; the
 *   HTTP/1.1 requests inside go through the same pipeline as plain HTTP, to `https://` on the target;
 * - a plain HTTP request line is served the same way without TLS;
 * - anything else is joined to the target unchanged.
 * In every case the route (direct or the rule's upstream) is the tunnel's.
 */
import http from 'node:http'
import type { Socket } from 'node:net'
import tls from 'node:tls'
import type { ClientConnection } from './account.ts'
import { bareHost } from './host.ts'
import type { Routed } from './route.ts'
import type { Target } from './upstream-connect.ts'

/** Issues a TLS context whose certificate is valid for `host` (the local CA, main/intercept/). */
export interface LeafIssuer {
  contextFor(host: string): Promise<tls.SecureContext>
}

/** What the requests inside one intercepted tunnel share. */
export interface Intercepted {
  connection: ClientConnection
  /** The CONNECT target; `secure` when TLS was terminated. */
  target: Target
  routed: Routed
  secure: boolean
  /** The name the client's TLS asked for, which the target must present a certificate for. */
  servername: string | null
}

/** A plain HTTP request line: a method token, a space, then a target. */
const REQUEST_LINE = /^[A-Z]{3,10} [^\s]/

export class Interceptor {
  private readonly issuer: LeafIssuer
  /** The requests inside intercepted tunnels arrive here, one socket per tunnel. */
  private readonly inner: http.Server
  private readonly tunnels = new Map<Socket, Intercepted>()
  /** Joins an unrecognised stream to its target unchanged. */
  private readonly passThrough: (
    connection: ClientConnection,
    first: Buffer,
    target: Target,
    routed: Routed
  ) => void

  constructor(options: { issuer: LeafIssuer; server: http.Server; passThrough: Interceptor['passThrough'] }) {
    this.issuer = options.issuer
    this.inner = options.server
    this.passThrough = options.passThrough
  }

  /** The tunnel a request inside an intercepted tunnel belongs to. */
  tunnelOf(socket: Socket): Intercepted | undefined {
    return this.tunnels.get(socket)
  }

  /** Opens an intercepted tunnel on `connection`, whose CONNECT asked for `target`. */
  open(connection: ClientConnection, head: Buffer, target: Target, routed: Routed): void {
    const client = connection.socket
    connection.reply = { status: 200, code: null }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    if (head.length > 0) return void this.sniff(connection, head, target, routed)
    client.once('data', (first: Buffer) => {
      client.pause()
      this.sniff(connection, first, target, routed)
    })
  }

  private sniff(connection: ClientConnection, first: Buffer, target: Target, routed: Routed): void {
    const client = connection.socket
    if (first[0] === 0x16) {
      client.unshift(first)
      void this.terminateTls(connection, target, routed)
    } else if (REQUEST_LINE.test(first.subarray(0, 16).toString('latin1'))) {
      client.unshift(first)
      this.serve(client, { connection, target, routed, secure: false, servername: null })
    } else {
      this.passThrough(connection, first, target, routed)
    }
  }

  private async terminateTls(connection: ClientConnection, target: Target, routed: Routed): Promise<void> {
    const client = connection.socket
    const bare = bareHost(target.hostname)
    let context: tls.SecureContext
    try {
      context = await this.issuer.contextFor(bare)
    } catch {
      return void client.destroy()
    }
    const tunnel: Intercepted = { connection, target, routed, secure: true, servername: null }
    const secure = new tls.TLSSocket(client, {
      isServer: true,
      secureContext: context,
      // Only HTTP/1.1 is parsed inside; a client offered h2 would otherwise fail after the handshake.
      ALPNProtocols: ['http/1.1'],
      SNICallback: (name, done) => {
        tunnel.servername = name
        if (name.toLowerCase() === bare.toLowerCase()) return done(null, context)
        this.issuer.contextFor(name).then(
          (named) => done(null, named),
          (error: Error) => done(error)
        )
      }
    })
    // A client that does not trust the local CA ends the handshake: that closes its connection.
    secure.on('error', () => client.destroy())
    this.serve(secure, tunnel)
  }

  /** Hands a tunnel's stream to the inner HTTP server, remembering which tunnel it is. */
  private serve(socket: Socket, tunnel: Intercepted): void {
    this.tunnels.set(socket, tunnel)
    socket.once('close', () => this.tunnels.delete(socket))
    this.inner.emit('connection', socket)
    socket.resume()
  }
}
