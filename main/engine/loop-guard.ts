/**
 * A request whose target is Junction itself would be forwarded to Junction again, and again: each
 * round costs a connection until the machine runs out. Such requests are answered `508 Loop Detected`
 * instead, recognised three ways:
 * - the target names one of the addresses Junction listens on, with its port (checked on arrival);
 * - the connection Junction opened for it landed on Junction's own port at a local address (checked
 *   once connected, which also catches names that resolve to this machine);
 * - the request already passed this Junction: its `Via` carries this instance's token, a per-start name,
 *   so that two Junctions chained on purpose do not mistake each other for a loop.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import type { Socket } from 'node:net'
import ipaddr from 'ipaddr.js'
import type { ErrorReply } from './errors.ts'
import { bareHost } from './host.ts'

const WILDCARDS = new Set(['0.0.0.0', '::'])

export class LoopGuard {
  /** This instance's `Via` received-by name, e.g. `junction-3f9a2c`. */
  readonly token = `junction-${randomBytes(3).toString('hex')}`
  private hosts = new Set<string>()
  private port = -1
  /** Listening on all interfaces: every loopback address reaches the listener too. */
  private wildcard = false

  /** Learns the addresses a server listening on `host:port` answers on. */
  listening(host: string, port: number): void {
    this.port = port
    const listen = normalize(host)
    this.wildcard = WILDCARDS.has(listen)
    // 0.0.0.0 and :: as targets reach a local listener on Linux and macOS.
    const hosts = new Set([listen, ...WILDCARDS])
    if (this.wildcard) {
      for (const list of Object.values(os.networkInterfaces()))
        for (const address of list ?? []) hosts.add(normalize(address.address))
      hosts.add(os.hostname().toLowerCase())
    }
    if (this.wildcard || isLoopback(listen)) hosts.add('localhost')
    this.hosts = hosts
  }

  /** True when a request for `hostname:port` (carrying `via`) would come back to this Junction. */
  isLoop(hostname: string, port: number, via: string | undefined): boolean {
    if (via !== undefined && via.includes(this.token)) return true
    if (port !== this.port) return false
    const host = normalize(hostname)
    // RFC 6761: *.localhost names resolve to loopback.
    const local = host.endsWith('.localhost') && this.hosts.has('localhost')
    return this.hosts.has(host) || local || (this.wildcard && isLoopback(host))
  }

  /**
   * True when `socket`, just connected to `port`, reached this Junction's own port on this machine.
   * The port is compared first: reading the socket's address is a system call.
   */
  isOwnSocket(socket: Socket, port: number): boolean {
    if (port !== this.port || !socket.remoteAddress) return false
    const address = normalize(socket.remoteAddress)
    return this.hosts.has(address) || (this.wildcard && isLoopback(address))
  }

  reply(target: { hostname: string; port: number }): ErrorReply {
    return {
      status: 508,
      code: 'loop-detected',
      message: `The request for ${target.hostname}:${target.port} would reach this Junction again (a proxy loop); it was refused.`
    }
  }
}

function isLoopback(host: string): boolean {
  return ipaddr.isValid(host) && ipaddr.process(host).range() === 'loopback'
}

/** Lower case, no brackets or trailing dot; IPv4-mapped IPv6 as plain IPv4; IPv6 compressed. */
function normalize(host: string): string {
  const bare = bareHost(host.toLowerCase()).replace(/\.$/, '')
  return ipaddr.isValid(bare) ? ipaddr.process(bare).toString() : bare
}
