/**
 * Host names as the engine meets them: IPv6 literals come bracketed from URLs (`[::1]`) and must be
 * bare for sockets, DNS and TLS, and bracketed again next to a port.
 */

/** `[::1]` → `::1`; anything else unchanged. */
export function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

/** `host:port`, with an IPv6 literal in brackets (RFC 3986 §3.2.2). */
export function hostPort(host: string, port: number): string {
  const bare = bareHost(host)
  return `${bare.includes(':') ? `[${bare}]` : bare}:${port}`
}
