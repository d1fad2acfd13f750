/**
 * The operating-system proxy, as Junction sees it on every platform. Each platform module reads the
 * complete settings into a snapshot it alone understands (so it can put them back exactly), and
 * describes any snapshot as a `ProxyView` (so settings can be compared and shown across platforms).
 */
import type { RestorePlan } from './restore-plan.ts'

export interface ProxyEndpoint {
  host: string
  port: number
}

/** What Junction asks the OS to use. */
export type DesiredProxy =
  | {
      mode: 'manual'
      http: ProxyEndpoint
      https: ProxyEndpoint
      /** SOCKS is optional: Junction's port speaks HTTP, so only clients that fall back need it. */
      socks: ProxyEndpoint | null
      /** Hosts that bypass the proxy, in the OS's own syntax (e.g. `<local>` on Windows). */
      bypass: string[]
    }
  | { mode: 'pac'; url: string }

/** A platform-neutral description of proxy settings. */
export interface ProxyView {
  /** `none`: direct; `manual`: fixed proxies; `pac`: a PAC URL; `auto-detect`: WPAD only. */
  mode: 'none' | 'manual' | 'pac' | 'auto-detect'
  http: ProxyEndpoint | null
  https: ProxyEndpoint | null
  socks: ProxyEndpoint | null
  bypass: string[]
  pacUrl: string | null
  autoDetect: boolean
}

export type PlatformId = 'windows' | 'macos' | 'gnome' | 'kde'

/** Everything needed to restore the OS settings exactly; JSON-serialisable, platform-specific `data`. */
export interface OsSnapshot {
  platform: PlatformId
  data: unknown
}

export interface SystemProxyPlatform {
  readonly id: PlatformId
  /** Reads the complete current settings. */
  snapshot(): Promise<OsSnapshot>
  /** Describes a snapshot taken by this platform. */
  view(snapshot: OsSnapshot): ProxyView
  apply(desired: DesiredProxy): Promise<void>
  /**
   * Writes a snapshot back, every value as it was. `applied`: every setting Junction applied since
   * the snapshot, in order (absent: unknown, from a journal written before it was recorded).
   */
  restore(snapshot: OsSnapshot, applied?: DesiredProxy[]): Promise<void>
  /**
   * The same restore as a fixed list of commands, for the shell watchdog. Absent where restoring needs
   * more than commands (reading the registry first, on Windows): the Node watchdog covers those.
   */
  restorePlan?(snapshot: OsSnapshot, applied: DesiredProxy[]): RestorePlan
}
