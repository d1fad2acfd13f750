/**
 * The data Junction stores and sends between processes: profiles, upstreams, rules and settings.
 *
 * Each type is a zod schema so that main (config files, IPC payloads) and the renderer (forms) validate
 * with the same rules and the same messages. Everything here is pure: no Node, no DOM, no Electron.
 */
import { z } from 'zod'

export const UPSTREAM_SCHEMES = ['http', 'https', 'socks4', 'socks4a', 'socks5', 'socks5h'] as const
export type UpstreamScheme = (typeof UPSTREAM_SCHEMES)[number]

const id = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'may contain only letters, digits, "-" and "_"')

const port = z.number().int('must be a whole number').min(1, 'must be 1–65535').max(65535, 'must be 1–65535')

export const UpstreamSchema = z.object({
  id,
  name: z.string().min(1, 'must not be empty').max(100),
  scheme: z.enum(UPSTREAM_SCHEMES),
  host: z
    .string()
    .min(1, 'must not be empty')
    .max(253)
    .regex(/^[^\s/@?#]+$/, 'must be a host name or IP address, without scheme, path or credentials'),
  port,
  username: z.string().max(255).optional(),
  password: z.string().max(255).optional(),
  /** Extra CA certificate (PEM) to trust for an `https` upstream, e.g. a company's internal CA. */
  ca: z
    .string()
    .max(65536)
    .regex(/-----BEGIN CERTIFICATE-----/, 'must be a PEM certificate')
    .optional()
})
export type Upstream = z.infer<typeof UpstreamSchema>

/**
 * Matchers test one property of the target. A rule matches when all of its matchers match.
 * Values are checked for syntax here; semantic checks (regex compiles, CIDR parses) live in
 * main/rules/validate.ts so that error messages can name the rule and field.
 */
export const MatcherSchema = z.discriminatedUnion('type', [
  /** Exact host name, case-insensitive: `example.com` matches only `example.com`. */
  z.object({ type: z.literal('host'), value: z.string().min(1, 'must not be empty') }),
  /** Domain and its subdomains: `example.com` matches `example.com` and `a.b.example.com`. */
  z.object({ type: z.literal('domain'), value: z.string().min(1, 'must not be empty') }),
  /** Shell-style pattern over the whole host name, as PAC's shExpMatch: `*` is any run of characters. */
  z.object({ type: z.literal('wildcard'), value: z.string().min(1, 'must not be empty') }),
  /** JavaScript regular expression tested against the host name (case-insensitive). */
  z.object({ type: z.literal('regex'), value: z.string().min(1, 'must not be empty') }),
  /** IPv4/IPv6 literal or CIDR block; matches targets given as IP literals. */
  z.object({ type: z.literal('ip'), value: z.string().min(1, 'must not be empty') }),
  /** Port list and ranges: `443`, `80,8080`, `8000-8999`. */
  z.object({ type: z.literal('port'), value: z.string().min(1, 'must not be empty') }),
  /** `http` for plain proxied HTTP requests, `connect` for CONNECT tunnels (HTTPS and other TCP). */
  z.object({ type: z.literal('protocol'), value: z.enum(['http', 'connect']) })
])
export type Matcher = z.infer<typeof MatcherSchema>
export type MatcherType = Matcher['type']

export const ActionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('direct') }),
  z.object({ type: z.literal('upstream'), upstreamId: id }),
  z.object({
    type: z.literal('block'),
    // 59x are proxy-chain's internal failure codes and would be rewritten as upstream errors.
    status: z
      .number()
      .int()
      .min(400, 'must be a 4xx or 5xx status')
      .max(589, 'must be a 4xx or 5xx status below 590'),
    body: z.string().max(4096, 'must be at most 4096 characters')
  }),
  z.object({ type: z.literal('reject') })
])
export type Action = z.infer<typeof ActionSchema>

export const RuleSchema = z.object({
  id,
  name: z.string().max(200).optional(),
  enabled: z.boolean(),
  matchers: z.array(MatcherSchema).min(1, 'needs at least one matcher'),
  action: ActionSchema
})
export type Rule = z.infer<typeof RuleSchema>

export const ProfileSchema = z.object({
  id,
  name: z.string().min(1, 'must not be empty').max(100),
  upstreams: z.array(UpstreamSchema),
  rules: z.array(RuleSchema),
  defaultAction: ActionSchema,
  /** In PAC mode, send nothing direct when Junction is unreachable (the default falls back to DIRECT). */
  pacFailClosed: z.boolean().optional()
})
export type Profile = z.infer<typeof ProfileSchema>

/** The built-in profile: every request goes straight to its target. It cannot be edited or deleted. */
export const DIRECT_PROFILE: Profile = Object.freeze({
  id: 'direct',
  name: 'Direct',
  upstreams: [],
  rules: [],
  defaultAction: { type: 'direct' }
}) as Profile

export const SettingsSchema = z.object({
  /** Address the proxy listens on. Anything but loopback exposes it to the network. */
  listenHost: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  /** Credentials clients must send; required whenever the proxy listens beyond loopback. */
  proxyAuth: z
    .object({
      username: z.string().min(1, 'must not be empty').max(255),
      password: z.string().min(8, 'must be at least 8 characters').max(255)
    })
    .nullable(),
  activeProfileId: id,
  /** Also write the request log to `<data dir>/logs/requests.log` (rotated at 10 MiB, 3 kept). */
  requestLogFile: z.boolean(),
  systemProxy: z.object({
    /** `off`: Junction never touches the OS proxy. */
    mode: z.enum(['off', 'manual', 'pac']),
    /** Also point the OS's SOCKS proxy at Junction (manual mode). */
    socks: z.boolean(),
    /** Hosts that bypass the proxy; empty means the platform default (localhost, 127.0.0.0/8, ::1 …). */
    bypass: z.array(z.string().min(1).max(253)).max(500),
    /** When another program changes the OS proxy while Junction has it on. */
    guard: z.enum(['reapply', 'yield'])
  }),
  /** Desktop app only; headless mode ignores these. */
  desktop: z.object({
    startAtLogin: z.boolean(),
    startMinimized: z.boolean(),
    /** Closing the window keeps Junction running in the tray. */
    closeToTray: z.boolean()
  })
})
export type Settings = z.infer<typeof SettingsSchema>

export const DEFAULT_SETTINGS: Settings = {
  listenHost: '127.0.0.1',
  port: 8899,
  proxyAuth: null,
  activeProfileId: 'direct',
  requestLogFile: false,
  systemProxy: { mode: 'off', socks: false, bypass: [], guard: 'reapply' },
  desktop: { startAtLogin: false, startMinimized: false, closeToTray: true }
}

/** What the engine decided for one request, as reported to logs, statistics and `explain`. */
export type Decision =
  | { action: 'direct' }
  | { action: 'upstream'; upstreamId: string }
  | { action: 'block'; status: number; body: string }
  | { action: 'reject' }

export interface RouteTarget {
  hostname: string
  port: number
  /** true for a plain proxied HTTP request, false for a CONNECT tunnel. */
  isHttp: boolean
}

export interface Explanation {
  target: RouteTarget
  decision: Decision
  /** The rule that decided, or null when the profile's default action applied. */
  rule: { id: string; name?: string; index: number } | null
  /** Human-readable, e.g. `rule "ads" (domain doubleclick.net) → block 403`. */
  text: string
}

export type EngineState =
  | { status: 'stopped' }
  | { status: 'starting' }
  | { status: 'running'; host: string; port: number; profileId: string; profileName: string }
  | { status: 'stopping' }
  | { status: 'failed'; error: string }

/** How a connection's current request is routed, as shown to users: `direct`, an upstream id, `block` or `reject`. */
export type RouteLabel = string

export interface ConnectionView {
  id: number
  /** Client address and port, e.g. `127.0.0.1:53122`. */
  client: string
  /** Target of the connection's latest request, `host:port`. */
  target: string
  host: string
  kind: 'http' | 'connect'
  profileId: string
  ruleId: string | null
  route: RouteLabel
  startedAt: number
  lastActivityAt: number
  /** Bytes the client sent to Junction and received from it on this connection (headers included). */
  up: number
  down: number
  requests: number
  state: 'open' | 'closed'
  /** When it closed; null while open. */
  closedAt: number | null
  /** Why it closed: `closed` (by either side), `error`, `closed by user`, `proxy stopped` …; null while open. */
  closeReason: string | null
}

export interface HostTraffic {
  host: string
  up: number
  down: number
}

export interface StatsSnapshot {
  at: number
  /** Bytes per second over the last interval. */
  upRate: number
  downRate: number
  /** Bytes since the proxy started. */
  totalUp: number
  totalDown: number
  openCount: number
  /** The most recently active open connections, at most `connectionLimit` of them. */
  connections: ConnectionView[]
  connectionLimit: number
  /** The last connections to close, newest first (at most 50), with when and why they closed. */
  recentlyClosed: ConnectionView[]
  topHosts: HostTraffic[]
}

export interface RequestLogEntry {
  at: number
  connectionId: number
  method: string
  host: string
  port: number
  /** HTTP status sent to the client (200 for an opened tunnel); 0 when the connection failed before a reply. */
  status: number
  /** `X-Junction-Error` code when Junction or an upstream failed the request. */
  error: string | null
  profileId: string
  ruleId: string | null
  route: RouteLabel
  up: number
  down: number
  durationMs: number
}
