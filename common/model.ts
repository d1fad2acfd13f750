/**
 * The data Junction stores and sends between processes: profiles, upstreams, rules and settings.
 *
 * Each type is a zod schema so that main (config files, IPC payloads) and the renderer (forms) validate
 * with the same rules and the same messages. Everything here is pure: no Node, no DOM, no Electron.
 */
import { z } from 'zod'
import { LANGUAGE_CHOICES } from './language.ts'
import { checkBypassEntry } from './matcher-checks.ts'

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
    .optional(),
  /**
   * Reach this upstream through another upstream of the profile (a multi-hop chain): Junction opens a
   * tunnel through `via` to this upstream's address. Chains are at most MAX_CHAIN_HOPS long, without cycles.
   */
  via: id.optional()
})
export type Upstream = z.infer<typeof UpstreamSchema>

/** Upstreams one request may pass through, the one it names included (`a` via `b` via `c` is 3 hops). */
export const MAX_CHAIN_HOPS = 4

export const GROUP_STRATEGIES = ['failover', 'round-robin', 'lowest-latency', 'manual'] as const
export type GroupStrategy = (typeof GROUP_STRATEGIES)[number]
/** What lowest-latency groups measure by default, as Clash's url-test does: a tiny answer, no body. */
export const DEFAULT_LATENCY_TEST_URL = 'https://www.gstatic.com/generate_204'
/** How often a lowest-latency group that carries traffic measures its members, by default. */
export const DEFAULT_TEST_INTERVAL_MINUTES = 5

/**
 * Upstreams used as one: a rule (or the default action) naming the group is carried by one member,
 * picked by the strategy — `failover`: the first member that is up, in order; `round-robin`: healthy
 * members in turn; `lowest-latency`: the healthy member last measured fastest; `manual`: `selected`.
 */
export const UpstreamGroupSchema = z.object({
  id,
  name: z.string().min(1, 'must not be empty').max(100),
  strategy: z.enum(GROUP_STRATEGIES),
  /** Upstream ids of this profile, in order (groups cannot contain groups). */
  members: z.array(id).min(1, 'needs at least one member').max(32, 'at most 32 members'),
  /** For `manual`: the member the user picked; the first member when unset. */
  selected: id.optional(),
  /** For `lowest-latency`: while the group carries traffic, latencies are measured again at most this often. */
  testIntervalMinutes: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be 1–1440')
    .max(1440, 'must be 1–1440')
    .optional(),
  /** For `lowest-latency`: the URL each member is measured with; DEFAULT_LATENCY_TEST_URL when unset. */
  testUrl: z.string().url('must be a URL').max(2048).optional()
})
export type UpstreamGroup = z.infer<typeof UpstreamGroupSchema>

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
  z.object({ type: z.literal('protocol'), value: z.enum(['http', 'connect']) }),
  /**
   * Request matchers: they see a request, so they match plain HTTP and requests inside intercepted
   * tunnels, never a CONNECT. `path`: a prefix (`/api/`) or, with `*`, a pattern over path and query.
   */
  z.object({ type: z.literal('path'), value: z.string().min(1, 'must not be empty') }),
  /** Request methods, comma-separated: `GET,HEAD`. */
  z.object({ type: z.literal('method'), value: z.string().min(1, 'must not be empty') }),
  /** A request header present (`X-Debug`), or with a value pattern (`Accept: *json*`). */
  z.object({ type: z.literal('header'), value: z.string().min(1, 'must not be empty') })
])
export type Matcher = z.infer<typeof MatcherSchema>
export type MatcherType = Matcher['type']

export const ActionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('direct') }),
  /** `upstreamId` names an upstream or a group of the profile. */
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

/** RFC 9110 §5.1 field name: a token. `*` because emptiness has its own message. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/

/**
 * A field value Node will send (its `checkInvalidHeaderChar`): tab, visible ASCII, space and Latin-1.
 * CR/LF would let an edit inject headers; any other control character or wider character makes
 * Node's `setHeader` throw mid-request.
 */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/**
 * Headers a rule must not edit: hop-by-hop fields (RFC 9110 §7.6.1) belong to one connection, and
 * Host, Content-Length and Transfer-Encoding decide where a message goes and where it ends — editing
 * them would misroute or desynchronise the stream (request smuggling).
 */
export const PROTECTED_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length'
])

/** One header edit, applied in order: `set` replaces every value, `append` adds one, `remove` drops all. */
const headerName = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .regex(HEADER_NAME, "must be a header name (letters, digits and !#$%&'*+-.^_`|~, no spaces or colons)")
  .refine((name) => !PROTECTED_HEADERS.has(name.toLowerCase()), {
    message:
      'cannot be edited: hop-by-hop headers, Host, Content-Length and Transfer-Encoding are managed by the proxy'
  })

const headerValue = z
  .string()
  .max(8192, 'must be at most 8192 characters')
  .regex(HEADER_VALUE, 'must not contain line breaks, control characters or characters beyond Latin-1')

export const HeaderEditSchema = z
  .object({
    op: z.enum(['set', 'append', 'remove']),
    name: headerName,
    value: headerValue.optional()
  })
  // An empty value is legal HTTP but almost always a forgotten field; `remove` drops a header.
  .refine((edit) => edit.op === 'remove' || (edit.value !== undefined && edit.value !== ''), {
    message: 'needs a value (only remove takes none)',
    path: ['value']
  })
export type HeaderEdit = z.infer<typeof HeaderEditSchema>

/**
 * One find-and-replace on a text response body, in order. With `regex`, `find` is an RE2 expression
 * (linear time, checked when saved) and `replace` may use `$1`…; otherwise both are plain text.
 */
export const BodyEditSchema = z.object({
  find: z.string().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters'),
  replace: z.string().max(65536, 'must be at most 65536 characters'),
  regex: z.boolean().optional()
})
export type BodyEdit = z.infer<typeof BodyEditSchema>

/** Header edits for the traffic a rule matches: plain HTTP (and intercepted HTTPS) requests and responses. */
export const RewriteSchema = z.object({
  request: z.array(HeaderEditSchema).max(50, 'at most 50 edits').optional(),
  response: z.array(HeaderEditSchema).max(50, 'at most 50 edits').optional(),
  /** Find-and-replace on text request bodies (forms, JSON), sent on with their new length. */
  requestBody: z.array(BodyEditSchema).max(50, 'at most 50 edits').optional(),
  /** Find-and-replace on text response bodies (decompressed and compressed again as needed). */
  responseBody: z.array(BodyEditSchema).max(50, 'at most 50 edits').optional()
})

/** A response Junction sends itself, without contacting the target (a mock). */
export const RespondWithSchema = z.object({
  status: z.number().int('must be a whole number').min(200, 'must be 200–599').max(599, 'must be 200–599'),
  headers: z
    .array(z.object({ name: headerName, value: headerValue }))
    .max(50, 'at most 50 headers')
    .optional(),
  body: z.string().max(1024 * 1024, 'must be at most 1 MiB')
})
export type RespondWith = z.infer<typeof RespondWithSchema>
export type Rewrite = z.infer<typeof RewriteSchema>

export const RuleSchema = z.object({
  id,
  name: z.string().max(200).optional(),
  enabled: z.boolean(),
  matchers: z.array(MatcherSchema).min(1, 'needs at least one matcher'),
  action: ActionSchema,
  /** Header edits for matching plain-HTTP traffic (and WebSocket upgrade requests). */
  rewrite: RewriteSchema.optional(),
  /**
   * Open matching CONNECT tunnels: TLS is terminated with a certificate from Junction's local CA, so
   * header edits apply to HTTPS too. Off unless set; the route (direct or upstream) is unchanged.
   */
  intercept: z.boolean().optional(),
  /** Answer matching plain-HTTP and intercepted requests with this response; the target is not contacted. */
  respondWith: RespondWithSchema.optional()
})
export type Rule = z.infer<typeof RuleSchema>

export const ProfileSchema = z.object({
  id,
  name: z.string().min(1, 'must not be empty').max(100),
  upstreams: z.array(UpstreamSchema),
  /** Groups of this profile's upstreams; rules name them like upstreams (ids are unique across both). */
  groups: z.array(UpstreamGroupSchema).max(100, 'at most 100 groups').optional(),
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

/** A timeout in whole seconds; the Settings view reads `minValue`/`maxValue` for its inputs. */
function seconds(min: number, max: number): z.ZodNumber {
  const whole = 'must be a whole number of seconds'
  const range = `must be ${min}–${max} s`
  return z.number({ error: whole }).int(whole).min(min, range).max(max, range)
}

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
    bypass: z
      .array(
        z
          .string()
          .max(253, 'must be at most 253 characters')
          .superRefine((entry, ctx) => {
            const problem = checkBypassEntry(entry)
            if (problem) ctx.addIssue({ code: 'custom', message: problem })
          })
      )
      .max(500, 'at most 500 entries'),
    /** When another program changes the OS proxy while Junction has it on. */
    guard: z.enum(['reapply', 'yield'])
  }),
  /** How long Junction waits, in seconds. */
  timeouts: z.object({
    /** Reaching a target or upstream (TCP connect, and the upstream's CONNECT reply). */
    connectSeconds: seconds(1, 600),
    /** From a forwarded request to the response's headers; then the client gets 504. */
    responseHeadersSeconds: seconds(1, 3600),
    /** A tunnel (CONNECT or WebSocket) with no bytes either way is closed. */
    idleTunnelSeconds: seconds(10, 86400),
    /** A keep-alive client connection with no request in flight is closed. */
    idleClientSeconds: seconds(5, 3600)
  }),
  /** Add `Via: 1.1 junction` to forwarded plain-HTTP requests and responses (RFC 9110 §7.6.3). */
  via: z.boolean(),
  /**
   * CA certificates (PEM) trusted for sites Junction intercepts, besides the system's roots and
   * NODE_EXTRA_CA_CERTS: a company's internal CA, a test server's.
   */
  trustedCas: z
    .array(
      z
        .string()
        .max(65536, 'must be at most 64 KiB')
        .regex(/-----BEGIN CERTIFICATE-----/, 'must be a PEM certificate')
    )
    .max(20, 'at most 20 certificates'),
  /** Desktop app only; headless mode ignores these. */
  desktop: z.object({
    startAtLogin: z.boolean(),
    startMinimized: z.boolean(),
    /** Closing the window keeps Junction running in the tray. */
    closeToTray: z.boolean()
  }),
  /**
   * The language last picked in the UI, which keeps its own choice in the page; main's tray menu
   * follows it, and for "system" (or absent, as in files written before it existed) the OS's
   * preferred languages.
   */
  language: z.enum(LANGUAGE_CHOICES).optional()
})
export type Settings = z.infer<typeof SettingsSchema>

export const DEFAULT_SETTINGS: Settings = {
  listenHost: '127.0.0.1',
  port: 8899,
  proxyAuth: null,
  activeProfileId: 'direct',
  requestLogFile: false,
  systemProxy: { mode: 'off', socks: false, bypass: [], guard: 'reapply' },
  // Squid's defaults: connect_timeout is 1 min (15 s keeps a dead route from stalling a page),
  // client_idle_pconn_timeout 2 min, read_timeout 15 min for quiet tunnels.
  timeouts: {
    connectSeconds: 15,
    responseHeadersSeconds: 60,
    idleTunnelSeconds: 900,
    idleClientSeconds: 120
  },
  via: true,
  trustedCas: [],
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
  /** For request matchers: what only a request (not a CONNECT) shows. */
  request?: RequestFacts
}

export interface RequestFacts {
  method: string
  /** Path and query, as in the request line. */
  path: string
  /** Header names in lower case. */
  headers: Readonly<Record<string, string | string[] | undefined>>
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

/**
 * How a connection's current request is routed, as statistics keep it: `direct`, an upstream id,
 * `member@group` (a group's member that carried it), `block` or `reject`.
 */
export type RouteLabel = string

/** Names shown in place of ids (main/stats/display-names.ts says when they are resolved). */
export interface ShownNames {
  /** The profile's name, or `(deleted profile)`. */
  profileName: string
  /** The deciding rule's name, else what it does (`domain example.com and subdomains → Squid`); `default` when no rule decided; `(deleted rule)`. */
  ruleName: string
  /** `direct`, `block`, `reject`, the upstream's name (`Squid (group Office)` through a group), or `(deleted upstream)`. */
  routeName: string
}

export interface ConnectionView extends ShownNames {
  id: number
  /** Client address and port, e.g. `127.0.0.1:53122`. */
  client: string
  /** Target of the connection's latest request, `host:port`. */
  target: string
  host: string
  /** `upgrade`: a plain-HTTP request switched protocols (WebSocket) and the connection is now a tunnel. */
  kind: 'http' | 'connect' | 'upgrade'
  profileId: string
  ruleId: string | null
  route: RouteLabel
  startedAt: number
  lastActivityAt: number
  /** Bytes the client sent to Junction and received from it on this connection (headers included). */
  up: number
  down: number
  /** Bytes per second over the last statistics interval (1 s), measured in main; 0 once closed. */
  upRate: number
  downRate: number
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
  /** How many header edits the rule applied to this request and its response; 0 when none. */
  rewritten: number
}

/** A request log entry as the Activity view reads it. */
export type NamedRequestLogEntry = RequestLogEntry & ShownNames
