/**
 * CONNECT tunnels that go straight to the target.
 *
 * Junction connects to the target before answering the client: a failure becomes a readable 502/504
 * (see errors.ts) instead of a silently closed socket; success is answered with
 * `200 Connection Established` and the two sockets are joined.
 */
import net from 'node:net'
import type { LookupFunction } from 'node:net'
import { bareHost } from './host.ts'
import { noteStreamed } from '../stats/memory-return.ts'

export interface DirectConnectOptions {
  host: string
  port: number
  lookup?: LookupFunction | undefined
  timeoutMs: number
  /**
   * The client socket this connection is for: when it closes first, the attempt is given up (the
   * half-open socket destroyed) instead of running on to its timeout for nobody.
   */
  owner?: net.Socket | undefined
  /**
   * The socket will be a tunnel's target (joinSockets): it reads through relayToPeer, and nothing
   * before it is joined.
   */
  relayed?: boolean
}

/**
 * Opens a TCP connection; rejects with an errno-style error (ETIMEDOUT on timeout, ECONNABORTED when
 * the owner left first).
 */
export function connectTarget(options: DirectConnectOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const host = bareHost(options.host)
    const { owner } = options
    const socket = net.connect({
      host,
      port: options.port,
      ...(options.lookup ? { lookup: options.lookup } : {}),
      ...(options.relayed ? { onread: { buffer: takeReadBuffer, callback: relayToPeer } } : {})
    })
    if (options.relayed) {
      // Nothing is read until the tunnel is joined: a target that speaks first (SSH, SMTP) waits in
      // the kernel's buffer.
      socket.pause()
      ;(socket as TunnelSocket).junctionRelayed = true
    }
    const settle = (error: Error | null): void => {
      clearTimeout(timer)
      socket.removeListener('error', settle)
      owner?.removeListener('close', abandoned)
      if (!error) return resolve(socket)
      socket.destroy()
      reject(error)
    }
    const timer = setTimeout(
      () =>
        settle(Object.assign(new Error(`connect ETIMEDOUT ${host}:${options.port}`), { code: 'ETIMEDOUT' })),
      options.timeoutMs
    )
    const abandoned = (): void =>
      settle(
        Object.assign(new Error('the client left before the connection was made'), { code: 'ECONNABORTED' })
      )
    socket.once('connect', () => settle(null))
    socket.once('error', settle)
    owner?.once('close', abandoned)
  })
}

/**
 * A socket of a joined tunnel: the socket at its other end, and for the client's, how long the target
 * may stay quiet once the client has half-closed. Kept on the sockets themselves so that the handlers
 * below are shared by every tunnel: `pipe()` both ways cost 18 closures and 4 `once()` wrappers per
 * tunnel, and idle tunnels are mostly such bookkeeping (BENCHMARKS.md, peers: memory per tunnel).
 */
interface TunnelSocket extends net.Socket {
  junctionPeer: TunnelSocket
  junctionFinishMs?: number
  /** Opened `relayed`: its reads reach its peer through relayToPeer, with no 'data' event. */
  junctionRelayed?: true
}

/** How much a target's socket reads at once: libuv's own read size. */
const READ_BYTES = 64 * 1024

/**
 * Where the targets' sockets read (net.connect's `onread`). Node otherwise reads each chunk into a new
 * 64 KiB Buffer that lives until V8 next collects garbage; allocating and freeing those was about a
 * quarter of the CPU of a 1 GiB download through a tunnel.
 *
 * A socket's handle keeps the buffer it was given for its next read for as long as it waits, so a
 * buffer shared by many sockets must be free again by the time any read returns: what lands in the
 * shared one is copied before it is written on (a copy the size of the read, as Node's own reads make).
 * A socket whose read filled the buffer is in the middle of a transfer: it gets a buffer of its own and
 * writes straight from it, reusing it while the kernel takes each write at once, and after a write
 * that had to wait for a slow client (Node queues the Buffer, not a copy), since reading then pauses
 * until the client's socket has written everything. A read that does not fill it sends the socket
 * back to the shared buffer, so an idle tunnel holds none; the buffer it leaves is kept (a few are)
 * for the next socket that needs one. Before, each of those cases took a new 64 KiB that only the
 * garbage collector freed, and V8 ran full collections for the memory held outside its heap during
 * bulk downloads (BENCHMARKS.md, "Read buffers kept for reuse").
 */
const sharedReadBuffer = Buffer.allocUnsafe(READ_BYTES)
/** The buffer for the next read of the socket relayToPeer was just called for (Node asks right after). */
let nextReadBuffer: Buffer = sharedReadBuffer
/** Buffers of their own that sockets have finished with, for the next read that needs one. */
const spareReadBuffers: Buffer[] = []
const MAX_SPARE_BUFFERS = 8

function takeReadBuffer(): Buffer {
  const buffer = nextReadBuffer
  nextReadBuffer = sharedReadBuffer
  return buffer
}

/** `bytes` read into `buffer` by a target's socket: written to the client; false pauses reading. */
function relayToPeer(this: TunnelSocket, bytes: number, buffer: Buffer): boolean {
  const peer = this.junctionPeer
  const full = bytes === buffer.length
  if (buffer === sharedReadBuffer) {
    const copy = Buffer.from(buffer.subarray(0, bytes))
    noteStreamed(copy)
    if (full) nextReadBuffer = spareReadBuffers.pop() ?? Buffer.allocUnsafe(READ_BYTES)
    return peer.write(copy)
  }
  const flowing = peer.write(full ? buffer : buffer.subarray(0, bytes))
  const written = peer.writableLength === 0
  // A write that waits pauses this socket's reads until the client has written everything ('drain',
  // joinSockets), so the buffer is free again by the next read.
  if (full && (written || !flowing)) nextReadBuffer = buffer
  else if (written && spareReadBuffers.length < MAX_SPARE_BUFFERS) spareReadBuffers.push(buffer)
  else {
    noteStreamed(buffer)
    if (full) nextReadBuffer = spareReadBuffers.pop() ?? Buffer.allocUnsafe(READ_BYTES)
  }
  return flowing
}

/**
 * Joins a client and a target socket both ways (closeTogether says how they end). Each chunk read from
 * one is written to the other (a `relayed` target's by relayToPeer, without a 'data' event); when that
 * write is buffered beyond the peer's high-water mark the reading side pauses until the peer drains, so
 * a slow reader at either end holds back the other end instead of making Junction buffer. A half-close
 * (FIN) is passed on; an error on one side destroys the other.
 */
export function joinSockets(client: net.Socket, target: net.Socket, finishMs: number): void {
  link(client, target, finishMs)
  for (const socket of [client, target]) {
    if (!(socket as TunnelSocket).junctionRelayed) socket.on('data', forward)
    socket.on('drain', resumePeer)
    socket.on('error', destroyPeer)
  }
  client.on('end', clientEnded)
  target.on('end', endPeer)
  client.resume()
  target.resume()
}

function forward(this: TunnelSocket, chunk: Buffer): void {
  noteStreamed(chunk)
  if (!this.junctionPeer.write(chunk)) this.pause()
}

function resumePeer(this: TunnelSocket): void {
  this.junctionPeer.resume()
}

function destroyPeer(this: TunnelSocket): void {
  this.junctionPeer.destroy()
}

function endPeer(this: TunnelSocket): void {
  this.junctionPeer.end()
}

/** The client half-closed: passed on, and its target has `junctionFinishMs` of quiet left. */
function clientEnded(this: TunnelSocket): void {
  this.junctionPeer.end()
  finishSoon.call(this)
}

/** Lets memory-return.ts free what a tunnel carried, whoever pipes it (noteStreamed says why). */
export function countStreamed(client: net.Socket, target: net.Socket): void {
  client.on('data', noteStreamed)
  target.on('data', noteStreamed)
}

/**
 * How a tunnel's two sockets end, whoever carries the bytes (joinSockets, or proxy-chain for tunnels
 * through HTTP/HTTPS upstreams):
 * - when either closes, the other is destroyed once it has written what it still had to
 *   (`destroySoon`): `end()` alone leaves it half-open for as long as its peer keeps its own side
 *   open, which a hung peer does forever;
 * - when the client half-closes (its FIN is passed on), the target has `finishMs` of quiet to finish
 *   its answer, then both close. Clients close tunnels this way when they leave (the server's sockets
 *   stay open after a FIN), so a target that never answers would otherwise hold both sockets until the
 *   idle timeout. (HAProxy's `timeout client-fin` guards the same case.)
 */
export function closeTogether(client: net.Socket, target: net.Socket, finishMs: number): void {
  link(client, target, finishMs)
  client.on('end', finishSoon)
}

/** Marks the two sockets as one tunnel's, each closing the other. */
function link(client: net.Socket, target: net.Socket, finishMs: number): void {
  const near = client as TunnelSocket
  const far = target as TunnelSocket
  near.junctionPeer = far
  near.junctionFinishMs = finishMs
  far.junctionPeer = near
  near.on('close', closePeer)
  far.on('close', closePeer)
}

function closePeer(this: TunnelSocket): void {
  const peer = this.junctionPeer
  peer.resume()
  peer.destroySoon()
}

/** The client half-closed: its target has `junctionFinishMs` of quiet left (closeTogether). */
function finishSoon(this: TunnelSocket): void {
  const target = this.junctionPeer
  target.on('timeout', destroySelf)
  target.setTimeout(this.junctionFinishMs!)
}

function destroySelf(this: net.Socket): void {
  this.destroy()
}
