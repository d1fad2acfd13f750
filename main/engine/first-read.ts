/**
 * Junction's listening server: an `http.Server` that takes each new connection's first read itself,
 * before Node's HTTP parser is given the socket.
 *
 * Why: Node's parser takes a request line without a version as HTTP/0.9 and then waits for headers an
 * HTTP/0.9 client never sends, until the head deadline; Junction answers such a line at once. Seeing
 * the first read through a 'data' listener on a socket the parser already has moves every later read
 * of that connection from the parser's native path to JavaScript: about 6 % of the CPU per proxied
 * keep-alive request (BENCHMARKS.md, HTTP hot path). Read before the parser exists, the chunk is put
 * back (`unshift`) for the parser, which then reads the rest of the connection natively.
 *
 * A first read that is a whole CONNECT head in its plainest form never meets the parser: it is read
 * by connect-head.ts and announced as the server's 'connect' event, as Node would announce it.
 */
import http from 'node:http'
import type { Socket } from 'node:net'
import { NO_VERSION } from './bad-requests.ts'
import { parseConnectHead } from './connect-head.ts'
import { endRaw, rawErrorResponse } from './errors.ts'

export class FirstReadServer extends http.Server {
  /** Called for every accepted connection, before its first read. */
  private readonly accepted: (socket: Socket) => void
  /** How long a connection may stay silent before its first read (the head deadline). */
  private readonly silentMs: number

  constructor(options: http.ServerOptions, silentMs: number, accepted: (socket: Socket) => void) {
    super(options)
    this.silentMs = silentMs
    this.accepted = accepted
  }

  /** net.Server announces a connection here; HTTP sees it once its first bytes have arrived. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'connection') return super.emit(event as string, ...args)
    const socket = args[0] as Socket
    this.accepted(socket)
    socket.on('error', destroy)
    socket.on('end', destroy)
    socket.on('timeout', destroy)
    socket.setTimeout(this.silentMs)
    socket.once('data', (chunk: Buffer) => this.handOver(socket, chunk))
    return true
  }

  private handOver(socket: Socket, chunk: Buffer): void {
    socket.removeListener('error', destroy)
    socket.removeListener('end', destroy)
    socket.removeListener('timeout', destroy)
    socket.setTimeout(0)
    const connect = chunk[0] === 0x43 /* C */ ? parseConnectHead(chunk, socket) : null
    if (connect) {
      // As Node's server leaves a socket it hands over: whoever reads it next starts it flowing.
      ;(socket as { readableFlowing: boolean | null }).readableFlowing = null
      super.emit('connect', connect.request, socket, connect.rest)
      return
    }
    socket.pause()
    socket.unshift(chunk)
    super.emit('connection', socket)
    socket.resume()
    // The parser reads the chunk on the next tick; one that leaves it waiting for headers is answered after.
    if (isVersionlessLine(chunk)) setImmediate(answerVersionless, socket)
  }
}

/**
 * A first read that is a request line without a version, whole and alone: Node's parser would wait
 * for headers after it. With a blank line the head is whole, and the parser answers or refuses it.
 */
function isVersionlessLine(chunk: Buffer): boolean {
  const lineEnd = chunk.indexOf('\n')
  if (lineEnd === -1 || chunk.includes('\r\n\r\n') || chunk.includes('\n\n')) return false
  return !/ HTTP\/\d/.test(chunk.toString('latin1', 0, lineEnd))
}

/** Unless the parser refused the line already (a malformed method, say), it is answered here. */
function answerVersionless(socket: Socket): void {
  if (socket.writable) endRaw(socket, rawErrorResponse(NO_VERSION))
}

/** A connection that errs, ends or stays silent before its first read just closes, as in Node. */
function destroy(this: Socket): void {
  this.destroy()
}
