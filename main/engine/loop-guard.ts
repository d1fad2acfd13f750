/**
 * A request whose target is Junction itself would be forwarded to Junction again, and again: each
 * round costs a connection until the machine runs out. Such requests are answered `508 Loop Detected`
 * instead, recognised two ways: the target is one of the addresses Junction listens on (with its
 * port), or the request already passed this Junction (its `Via` carries this instance's token — a
 * per-start name, so that two Junctions chained on purpose do not mistake each other for a loop).
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import ipaddr from 'ipaddr.js'
import type { ErrorReply } from './errors.ts'

const WILDCARDS = new Set(['0.0.0.0', '::'])

export class LoopGuard {
  /** This instance's `Via` received-by name, e.g. `junction-3f9a2c`. */
  readonly token = `junction-${randomBytes(3).toString('hex')}`
  private hosts = new Set<string>()
  private port = -1

  /** Learns the addresses a server listening on `host:port` answers on. */
  listening(host: string, port: number): void {
    this.port = port
    const hosts = new Set([normalize(host)])
    if (WILDCARDS.has(normalize(host))) {
      for (const list of Object.values(os.networkInterfaces()))
        for (const address of list ?? []) hosts.add(normalize(address.address))
      hosts.add(os.hostname().toLowerCase())
    }
    if (
      [...hosts].some((h) => ipaddr.isValid(h) && ipaddr.process(h).range() === 'loopback') ||
      WILDCARDS.has(normalize(host))
    )
      hosts.add('localhost')
    this.hosts = hosts
  }

  /** True when a request for `hostname:port` (carrying `via`) would come back to this Junction. */
  isLoop(hostname: string, port: number, via: string | undefined): boolean {
    if (via !== undefined && via.includes(this.token)) return true
    return port === this.port && this.hosts.has(normalize(hostname))
  }

  reply(target: { hostname: string; port: number }): ErrorReply {
    return {
      status: 508,
      code: 'loop-detected',
      message: `The request for ${target.hostname}:${target.port} would reach this Junction again (a proxy loop); it was refused.`
    }
  }
}

/** Lower case, no brackets or trailing dot; IPv4-mapped IPv6 as plain IPv4; IPv6 compressed. */
function normalize(host: string): string {
  const bare = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
  return ipaddr.isValid(bare) ? ipaddr.process(bare).toString() : bare
}
