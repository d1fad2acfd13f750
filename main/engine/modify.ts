/**
 * Stage 3 of a request's path: what Junction changes, or whether it answers itself.
 *
 * A blocked or rejected request is answered here and goes no further, as a handler in Go's
 * httputil/goproxy ends a request by answering it. Everything else is forwarded with its hop-by-hop
 * headers removed, the rule's header edits applied in order, and `Via` added (RFC 9110 §7.6.3)
 * unless turned off.
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { HeaderEdit } from '../../common/model.ts'
import { rawErrorResponse, writeTextReply } from './errors.ts'
import { stripHopByHop } from './hop-by-hop.ts'
import type { Routed } from './route.ts'

/**
 * Answers a plain-HTTP request itself when its rule says so: with the rule's mock response
 * (`respondWith`), or blocked; true when the request was answered (the pipeline ends).
 * A rejected one has its connection reset instead: the client sees it fail, as with a firewall drop.
 */
export function answerHttp(routed: Routed, res: ServerResponse): boolean {
  const { decision } = routed
  const mock = routed.rule?.rule.respondWith
  if (mock && (decision.action === 'direct' || decision.action === 'upstream')) {
    // A mock (like HTTP Toolkit's): the rule's own response; the target is never contacted.
    const body = Buffer.from(mock.body)
    for (const { name, value } of mock.headers ?? []) res.setHeader(name, value)
    res.setHeader('Content-Length', body.length)
    res.writeHead(mock.status)
    res.end(body)
    return true
  }
  if (decision.action === 'block') {
    writeTextReply(res, { status: decision.status, code: 'blocked', message: decision.body }, {}, false)
    return true
  }
  if (decision.action === 'reject') {
    res.socket?.resetAndDestroy()
    return true
  }
  return false
}

/** The same for a CONNECT or an Upgrade request, answered on the raw socket. */
export function answerRaw(routed: Routed, socket: Socket): boolean {
  const { decision } = routed
  if (decision.action === 'block') {
    socket.end(
      rawErrorResponse({ status: decision.status, code: 'blocked', message: decision.body }, {}, false)
    )
    return true
  }
  if (decision.action === 'reject') {
    socket.resetAndDestroy()
    return true
  }
  return false
}

/**
 * The headers to send on: `rawHeaders` without hop-by-hop fields and without `Host` (the sender adds
 * the target's), with `edits` applied and `via` appended. Returns how many edits changed something,
 * for the request log.
 */
export function forwardHeaders(
  rawHeaders: string[],
  edits: readonly HeaderEdit[] | undefined,
  via: string | null,
  upgrade: boolean
): number {
  // Requests get the target's authority as their one Host (transport.ts); a response has none.
  stripHopByHop(rawHeaders, upgrade, true)
  const applied = edits ? applyEdits(rawHeaders, edits) : 0
  if (via) rawHeaders.push('Via', via)
  return applied
}

/** Applies header edits in order to a raw header list, in place; returns how many changed it. */
export function applyEdits(rawHeaders: string[], edits: readonly HeaderEdit[]): number {
  let applied = 0
  for (const edit of edits) {
    const name = edit.name.toLowerCase()
    const before = rawHeaders.length
    if (edit.op !== 'append') removeAll(rawHeaders, name)
    if (edit.op !== 'remove') rawHeaders.push(edit.name, edit.value ?? '')
    if (edit.op !== 'remove' || rawHeaders.length !== before) applied++
  }
  return applied
}

/** Removes every header named `lowerName` (lower case) from a raw header list, in place. */
export function removeAll(rawHeaders: string[], lowerName: string): void {
  let write = 0
  for (let read = 0; read < rawHeaders.length; read += 2) {
    if (rawHeaders[read]!.toLowerCase() === lowerName) continue
    rawHeaders[write++] = rawHeaders[read]!
    rawHeaders[write++] = rawHeaders[read + 1]!
  }
  rawHeaders.length = write
}
