/**
 * The running pieces of one Junction: what the service, the tray and event forwarding read. A module
 * of its own so that they depend on this shape and not on runtime.ts, which builds it from them.
 */
import type { ProfileStore } from '../profiles/profile-store.ts'
import type { SettingsStore } from '../config/settings-store.ts'
import type { ProxyEngine } from '../engine/engine.ts'
import type { LocalAuthority } from '../intercept/authority.ts'
import type { ExchangeStore } from '../inspect/exchange-store.ts'
import type { NameResolver } from '../stats/display-names.ts'
import type { HistoryStore } from '../stats/history-store.ts'
import type { RequestRing } from '../stats/request-log.ts'
import type { RuleHits } from '../stats/rule-hits.ts'
import type { TrafficStats } from '../stats/traffic-stats.ts'
import type { AttachedSystemProxy } from '../sysproxy/attach.ts'
import type { SharedPorts } from '../services/shared-ports.ts'

export interface RuntimeParts {
  dataDir: string
  engine: ProxyEngine
  profiles: ProfileStore
  settings: SettingsStore
  stats: TrafficStats
  history: HistoryStore
  ring: RequestRing
  /** Profile, rule and upstream names in place of ids, for what users read. */
  names: NameResolver
  systemProxy: AttachedSystemProxy
  /** The local CA for HTTPS interception; its files are created on first use, not at start. */
  authority: LocalAuthority
  /** Recent HTTP exchanges for the Inspect view; records only after the view was first opened. */
  exchanges: ExchangeStore
  /** Upstreams shared as local ports without a password; closed when Junction stops. */
  sharedPorts: SharedPorts
  /** How often each rule decided something since start, for the Rules view. */
  ruleHits: RuleHits
}
