/**
 * Counts a process's open file descriptors and, among them, the TCP sockets on given ports (Linux
 * /proc). Tests run the engine, its clients and some peers (an in-process HTTPS upstream) in one
 * process; counting sockets by port tells the engine's own apart: the ones it accepted (local port =
 * the engine's) and the ones it opened to its first hop (remote port = the upstream's or target's).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** Every open descriptor of `pid` (default: this process). */
export function openDescriptors(pid: number | 'self' = 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

export interface SocketFilter {
  /** Sockets whose local port is this (accepted by a server on it). */
  localPort?: number
  /** Sockets whose remote port is this (connections to a server on it). */
  remotePort?: number
}

/** Open TCP sockets of `pid` matching any of the filters (by inode, so each socket counts once). */
export function openSockets(filters: SocketFilter[], pid: number | 'self' = 'self'): number {
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {
      continue // closed between the listing and the read
    }
    const m = /^socket:\[(\d+)\]$/.exec(link)
    if (m) inodes.add(m[1]!)
  }
  let count = 0
  for (const table of ['tcp', 'tcp6']) {
    const lines = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)
    for (const line of lines) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 10 || !inodes.has(fields[9]!)) continue
      const local = parseInt(fields[1]!.split(':')[1]!, 16)
      const remote = parseInt(fields[2]!.split(':')[1]!, 16)
      // A listening socket has remote port 0 and is not a connection.
      if (remote === 0) continue
      if (filters.some((f) => f.localPort === local || f.remotePort === remote)) count++
    }
  }
  return count
}
