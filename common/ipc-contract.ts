/**
 * The contract between the UI and the main process. Main implements `AppApi` once (the service
 * layer); Electron IPC and the headless dashboard's WebSocket both carry it; the preload exposes it as
 * `window.api`. Channel names derive from the keys, and every payload is checked against
 * `API_PAYLOADS` in main before a handler runs, because the sender is never trusted.
 *
 * Results cross as `{ ok: true, value } | { ok: false, error }`: Electron keeps only the message of a
 * thrown error, and the UI needs the code too.
 */
import type {
  ConnectionView,
  EngineState,
  Explanation,
  HostTraffic,
  Profile,
  NamedRequestLogEntry,
  Rule,
  Settings,
  ShownNames,
  StatsSnapshot,
  Upstream,
  UpstreamScheme
} from './model.ts'
import type { Result } from './result.ts'

export type SystemProxyMode = 'off' | 'manual' | 'pac'

export interface SystemProxyStatus {
  /** What Junction is doing to the OS proxy right now. */
  status: 'off' | 'on' | 'yielded' | 'unavailable'
  mode: SystemProxyMode
  /** Which controller is in use (windows, macos, gnome, kde), or null when none fits this desktop. */
  platform: string | null
  /** Why the system proxy is unavailable or yielded, in words. */
  detail: string | null
}

export interface ShellCommandSet {
  posix: string
  powershell: string
  cmd: string
}

export interface UpstreamTestResult {
  ok: boolean
  status: number
  latencyMs: number
  error: string | null
}

/** One member of an upstream group, as the Profiles view shows it. */
export interface GroupMemberStatus {
  upstreamId: string
  /** `down`: skipped until `downUntil` while another member is up (it failed `failures` times in a row). */
  state: 'up' | 'down'
  downUntil: number | null
  failures: number
  latencyMs: number | null
  measuredAt: number | null
  lastError: string | null
  lastErrorAt: number | null
}

export interface GroupStatus {
  groupId: string
  /** The member the next request goes to first; null for round-robin, which takes each in turn. */
  current: string | null
  members: GroupMemberStatus[]
}

/** "Test all": one upstream's result. */
export interface UpstreamTestRow {
  upstreamId: string
  result: UpstreamTestResult
}

export interface HistoryPoint {
  at: number
  up: number
  down: number
}

/** Junction's local certificate authority for HTTPS interception, as Settings shows it. */
export interface CertificateAuthorityInfo {
  /** The certificate's subject, e.g. `CN=Junction Local CA (ada@laptop)`. */
  subject: string
  /** SHA-256 of the certificate, colon-separated hex, as certificate viewers show it. */
  fingerprintSha256: string
  /** Base64 SHA-256 of the public key, for Chromium's `--ignore-certificate-errors-spki-list`. */
  spkiSha256Base64: string
  /** ISO 8601 (a `Date` does not survive the dashboard's JSON). */
  notAfter: string
  /** Where the public certificate is on disk. */
  pemPath: string
  pem: string
  /** Why this process cannot issue certificates with it (its key is sealed by another keychain), or null. */
  unavailable: string | null
}

/** A file for the UI to offer as a download. */
export interface FileExport {
  fileName: string
  base64: string
}

/** Which recorded exchanges the Inspect view lists; every field narrows, none given lists all. */
export interface ExchangeFilter {
  /** Part of the host name, case-insensitive. */
  host?: string
  /** A status or a class of them: `404`, `4xx` or `4` (all 4xx). */
  status?: string
  /** The method, case-insensitive, e.g. `post`. */
  method?: string
  /** Part of the URL, case-insensitive. */
  text?: string
}

/** One exchange as a row of the Inspect view's list. */
export interface ExchangeRow {
  id: number
  /** When the request arrived (ms since the epoch). */
  at: number
  method: string
  url: string
  host: string
  /** Null while the response's head has not arrived, or when the request failed first. */
  status: number | null
  /** Null while the exchange is in flight. */
  durationMs: number | null
  requestBytes: number
  responseBytes: number
  profileId: string
  ruleId: string | null
  route: string
  /** Seen inside an intercepted HTTPS tunnel. */
  intercepted: boolean
  /** Junction's error code when it answered or cut the exchange itself. */
  error: string | null
}

export interface HeaderPair {
  name: string
  value: string
}

/** A body preview rendered for reading: decompressed, then shown as text, pretty JSON or hex. */
export interface BodyView {
  kind: 'empty' | 'text' | 'json' | 'binary'
  /** The text, the pretty-printed JSON, or a hex dump of the first 4 KiB. */
  text: string
  contentType: string | null
  /** The Content-Encoding that was undone (`gzip`, `br`, `deflate`), or null. */
  decodedFrom: string | null
  /** Bytes of the body as it crossed the wire. */
  totalBytes: number
  /** Bytes of it Junction kept (at most 64 KiB). */
  previewBytes: number
  /** Only the first `previewBytes` of the body were kept. */
  truncated: boolean
  /** What a reader should know: the preview was cut, could not be decoded, is not complete JSON… */
  note: string | null
}

/** An exchange as Inspect lists it: profile, rule and route by name (main/stats/display-names.ts). */
export type NamedExchangeRow = ExchangeRow & ShownNames

export interface ExchangeDetail extends ExchangeRow {
  /** As forwarded: after hop-by-hop removal, the rule's edits and Via. */
  requestHeaders: HeaderPair[]
  /** Null when no response head arrived. */
  responseHeaders: HeaderPair[] | null
  requestBody: BodyView
  responseBody: BodyView
}

/** Whether the Inspect view records, and what it holds. */
export interface InspectState {
  recording: boolean
  count: number
  /** Bytes of body previews held. */
  bytes: number
}

/** Upstream passwords never travel to the UI; this stands in for a saved one, and saving it keeps it. */
export const SECRET_PLACEHOLDER = '\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022'

type Async<T> = Promise<Result<T>>

export interface AppApi {
  getEngineState(): Async<EngineState>
  /** Passwords are replaced by SECRET_PLACEHOLDER. */
  listProfiles(): Async<Profile[]>
  saveProfile(profile: Profile): Async<Profile>
  deleteProfile(id: string): Async<void>
  setActiveProfile(id: string, options?: { closeConnections: boolean }): Async<EngineState>
  /** What the profile does with `url`; `method` (default GET) reaches rules with method matchers. */
  explain(profileId: string, url: string, method?: string): Async<Explanation>
  /** One real request through an upstream (as edited, saved password kept), with latency or the error. */
  testUpstream(profileId: string, upstream: Upstream, url: string): Async<UpstreamTestResult>
  getSettings(): Async<Settings>
  updateSettings(patch: Partial<Settings>): Async<Settings>
  getSystemProxy(): Async<SystemProxyStatus>
  setSystemProxy(mode: SystemProxyMode): Async<SystemProxyStatus>
  shellCommands(): Async<ShellCommandSet>
  getStats(): Async<StatsSnapshot>
  /** Newest first; with `filter`, only entries where every word is in what Activity shows of them. */
  getRequestLog(query: { limit: number; filter?: string }): Async<NamedRequestLogEntry[]>
  topHosts(query: { from: number; to: number; limit: number }): Async<HostTraffic[]>
  historySeries(query: {
    from: number
    to: number
    kind: 'host' | 'profile' | 'route'
    name: string
  }): Async<HistoryPoint[]>
  exportHistoryCsv(query: { from: number; to: number }): Async<string>
  /** A page of open connections (most recently active first) and how many match, for a virtualized table. */
  listConnections(query: {
    offset: number
    limit: number
    filter?: string
    sort?: ConnectionSort
  }): Async<{ total: number; rows: ConnectionView[] }>
  closeConnection(id: number): Async<boolean>
  /** Closes every open connection the filter matches (all when empty); returns how many. */
  closeConnections(filter: string): Async<number>
  closeProfileConnections(profileId: string): Async<number>
  /** Profiles and settings as JSON, without upstream passwords. */
  exportConfig(): Async<string>
  importConfig(json: string): Async<{ profiles: number }>
  /** The local CA, created on first call if there is none yet. */
  getCertificateAuthority(): Async<CertificateAuthorityInfo>
  /** Replaces the CA with a new one; every device that trusted the old one must trust the new one. */
  regenerateCertificateAuthority(): Async<CertificateAuthorityInfo>
  /** The CA certificate as a PEM (`junction-ca.pem`) or DER (`junction-ca.cer`) file. */
  exportCertificateAuthority(format: 'pem' | 'der'): Async<FileExport>
  /** Starts Chromium or Chrome with a fresh profile, through Junction, trusting only the local CA. */
  launchChromium(): Async<{ executable: string; profileDir: string }>
  /** A page of recorded exchanges, newest first, and how many match. */
  listExchanges(query: {
    offset: number
    limit: number
    filter?: ExchangeFilter
  }): Async<{ total: number; rows: NamedExchangeRow[] }>
  exchangeDetail(id: number): Async<ExchangeDetail & ShownNames>
  /** The exchange's request as a POSIX-shell curl command. */
  exchangeAsCurl(id: number): Async<string>
  clearExchanges(): Async<InspectState>
  /** Starts or pauses recording (recording costs CPU per request; it is off until the view first opens). */
  setInspectRecording(on: boolean): Async<InspectState>
  inspectState(): Async<InspectState>
  /**
   * A new access token for the headless dashboard: other open dashboards are refused from now on, and
   * the returned address (with the token) opens it. Only the dashboard carries it; IPC refuses it.
   */
  rotateDashboardToken(): Async<{ url: string }>
  /** What this run's command line overrides (e.g. `--port`), null where the saved setting applies. */
  getRunOverrides(): Async<RunOverrides>
  /**
   * Junction's total rates over the last `range`: per second for 5 min (kept in memory since start),
   * per minute for 1 h and 24 h (from the stored history).
   */
  trafficRates(query: { range: TrafficRange }): Async<TrafficRates>
  /** Bytes per host or per profile (by name) over the last `range`, from the stored history, busiest first. */
  trafficBreakdown(query: {
    range: TrafficRange
    kind: 'host' | 'profile'
    limit: number
  }): Async<TrafficShare[]>
  /**
   * "Share without password": a local port (127.0.0.1, `port` or any free one) that needs no
   * credentials and forwards through the saved upstream with them. Open until stopped or quit.
   */
  shareUpstream(profileId: string, upstreamId: string, port?: number): Async<SharedPortInfo>
  listSharedPorts(): Async<SharedPortInfo[]>
  stopSharedPort(port: number): Async<void>
  /**
   * Each group's members as the engine knows them (up or down, last latency, last error). Health is
   * the running profile's; another profile's groups show every member up and unmeasured.
   */
  getGroupStatus(profileId: string): Async<GroupStatus[]>
  /** Picks the member a manual group sends its traffic to (saved with the profile). */
  selectGroupMember(profileId: string, groupId: string, upstreamId: string): Async<Profile>
  /** "Test all": measures every upstream of the saved profile once, a few at a time, through `url`. */
  testUpstreams(profileId: string, url: string): Async<UpstreamTestRow[]>
  // Per-rule edits: each sends and saves only the rules it changes (a profile may hold 100,000), and
  // answers with the profile's new rule count, which the UI compares with its own copy.
  /** Adds rules at their positions (applied in ascending order); ids must be new to the profile. */
  addRules(profileId: string, rules: PlacedRule[]): Async<{ ruleCount: number }>
  /** Replaces the rule with the same id, in place. */
  updateRule(profileId: string, rule: Rule): Async<{ ruleCount: number }>
  /** Deletes rules; `removed` (rules with their former positions) given to addRules undoes it. */
  deleteRules(profileId: string, ruleIds: string[]): Async<{ ruleCount: number; removed: PlacedRule[] }>
  /** Moves rules to new positions; `before` given back to moveRules undoes it. */
  moveRules(
    profileId: string,
    placements: RulePlacement[]
  ): Async<{ ruleCount: number; before: RulePlacement[] }>
  setRulesEnabled(profileId: string, ruleIds: string[], enabled: boolean): Async<{ ruleCount: number }>
  /** The profile's rules that decided something since Junction started. */
  getRuleHits(profileId: string): Async<RuleHit[]>
  /** Reads a SwitchyOmega/ZeroOmega backup, FoxyProxy export, Clash/mihomo config or Junction backup; saves nothing. */
  previewImport(text: string, fileName?: string): Async<ImportPreview>
  /** As `previewImport`, then saves the profiles as new ones (names made unique). */
  importProfiles(text: string, fileName?: string): Async<ImportSummary>
  /** The profile as a PAC file or a Squid configuration, with a comment for what it cannot express. */
  exportProfile(profileId: string, format: 'pac' | 'squid'): Async<string>
  /** Every profile and the settings as a Junction backup; upstream passwords only when asked. */
  exportBackup(options: { includePasswords: boolean }): Async<string>
}

export const TRAFFIC_RANGES = ['5m', '1h', '24h'] as const
export type TrafficRange = (typeof TRAFFIC_RANGES)[number]
export const TRAFFIC_RANGE_MS: Record<TrafficRange, number> = {
  '5m': 5 * 60_000,
  '1h': 3_600_000,
  '24h': 86_400_000
}

export interface TrafficRates {
  /** The range covered, `to` being now in main's clock. */
  from: number
  to: number
  /** Milliseconds between points: 1000 or 60000. */
  step: number
  /**
   * Bytes per second, oldest first. A per-minute point's `at` is the start of its minute; a
   * per-second point's is the tick that measured it, the end of its second.
   */
  points: HistoryPoint[]
}

export interface TrafficShare {
  name: string
  up: number
  down: number
}

export const CONNECTION_SORT_KEYS = [
  'target',
  'client',
  'kind',
  'profile',
  'rule',
  'route',
  'up',
  'down',
  'upRate',
  'downRate',
  'duration'
] as const
export interface ConnectionSort {
  key: (typeof CONNECTION_SORT_KEYS)[number]
  direction: 'ascending' | 'descending'
}

/** A local port that forwards through one upstream without asking for its credentials. */
export interface SharedPortInfo {
  host: string
  port: number
  /** The proxy address to give programs, e.g. `http://127.0.0.1:41234`. */
  url: string
  profileId: string
  upstreamId: string
  upstreamName: string
  scheme: UpstreamScheme
  /** When it was opened (ms since the epoch). */
  since: number
}

/** A rule and its position in its profile's list (0 is first): what addRules takes, deleteRules returns. */
export interface PlacedRule {
  rule: Rule
  index: number
}

export interface RulePlacement {
  ruleId: string
  index: number
}

/** How often a rule decided a request or tunnel since Junction started, and when it last did (ms). */
export interface RuleHit {
  ruleId: string
  count: number
  lastAt: number
}

/** The formats `previewImport` recognises. */
export type ImportFormat = 'switchyomega' | 'foxyproxy' | 'clash' | 'junction'

/** What an import could not carry over: one kind of thing, how many, and a few of them. */
export interface ImportSkipped {
  /** E.g. `proxies of type vmess`, `GEOIP rules`, `PAC-script profiles`. */
  what: string
  count: number
  /** At most three, as written in the file (never a password). */
  examples: string[]
}

export interface ImportSummary {
  format: ImportFormat
  /** The profiles made (or that would be made), with their new ids. */
  profiles: Array<{ id: string; name: string; upstreams: number; groups: number; rules: number }>
  /** Everything left out, by kind; empty when the whole file was carried over. */
  skipped: ImportSkipped[]
  /** Things that import with a difference in meaning, in words. */
  notes: string[]
}

export interface ImportPreview {
  format: ImportFormat
  /** As they would be saved; passwords replaced by SECRET_PLACEHOLDER. */
  profiles: Profile[]
  summary: ImportSummary
}

export interface RunOverrides {
  port: number | null
}

export interface AppEvents {
  onEngineState: EngineState
  onStats: StatsSnapshot
  onSystemProxy: SystemProxyStatus
  onError: { message: string }
  /** Recorded exchanges changed (new, finished, cleared) or recording was switched; at most ~4 a second. */
  onExchanges: InspectState
}

export type ApiMethod = keyof AppApi
export type ApiEvent = keyof AppEvents

export const API_METHODS = [
  'getEngineState',
  'listProfiles',
  'saveProfile',
  'deleteProfile',
  'setActiveProfile',
  'explain',
  'testUpstream',
  'getSettings',
  'updateSettings',
  'getSystemProxy',
  'setSystemProxy',
  'shellCommands',
  'getStats',
  'getRequestLog',
  'topHosts',
  'historySeries',
  'exportHistoryCsv',
  'listConnections',
  'closeConnection',
  'closeConnections',
  'closeProfileConnections',
  'exportConfig',
  'importConfig',
  'getCertificateAuthority',
  'regenerateCertificateAuthority',
  'exportCertificateAuthority',
  'launchChromium',
  'listExchanges',
  'exchangeDetail',
  'exchangeAsCurl',
  'clearExchanges',
  'setInspectRecording',
  'inspectState',
  'rotateDashboardToken',
  'getRunOverrides',
  'trafficRates',
  'trafficBreakdown',
  'shareUpstream',
  'listSharedPorts',
  'stopSharedPort',
  'getGroupStatus',
  'selectGroupMember',
  'testUpstreams',
  'addRules',
  'updateRule',
  'deleteRules',
  'moveRules',
  'setRulesEnabled',
  'getRuleHits',
  'previewImport',
  'importProfiles',
  'exportProfile',
  'exportBackup'
] as const satisfies readonly ApiMethod[]
export const API_EVENTS = [
  'onEngineState',
  'onStats',
  'onSystemProxy',
  'onError',
  'onExchanges'
] as const satisfies readonly ApiEvent[]

export const channelFor = (name: ApiMethod | ApiEvent): string => `junction:${name}`

/** True when two key sets are equal; used at compile time to keep the lists above complete. */
export type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : false
export const METHOD_LIST_COMPLETE: SameKeys<AppApi, Record<(typeof API_METHODS)[number], true>> = true
