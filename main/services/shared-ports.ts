/**
 * "Share without password": one upstream exposed as a local port that asks for no credentials and
 * forwards through the upstream with them, for programs that cannot send proxy credentials (or speak
 * SOCKS). proxy-chain's `anonymizeProxy` does this for HTTP upstreams only; here each shared port is a
 * small Junction engine of its own with a one-upstream profile, so every scheme works, chains (`via`)
 * too, with the same timeouts, name resolution and readable errors as the main proxy.
 *
 * A port without a password is open to every program that can reach it: it listens on loopback only,
 * and is refused anywhere else. Shared ports live as long as the process (closed on quit); they are
 * not saved. When the profile is saved again, each of its shares follows its upstream (new password,
 * address or chain, for connections from then on), and stops when the upstream or profile is gone.
 */
import net from 'node:net'
import type { SharedPortInfo } from '../../common/ipc-contract.ts'
import type { Profile, Upstream } from '../../common/model.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import { chainTo } from '../engine/chain.ts'
import { ProxyEngine, type EngineOptions } from '../engine/engine.ts'
import { hostPort } from '../engine/host.ts'

/** What shared ports take from the main proxy's settings, read at each share. */
export type SharedPortSettings = Pick<EngineOptions, 'timeouts' | 'via' | 'lookup'>

/** At most this many shared ports at once: each is a listener and an engine. */
export const MAX_SHARED_PORTS = 32

/** Only loopback addresses, literally: a name would need a lookup, and could resolve elsewhere. */
export function isLoopbackAddress(host: string): boolean {
  return (net.isIPv4(host) && host.startsWith('127.')) || host === '::1'
}

export class SharedPorts {
  readonly #settings: () => SharedPortSettings
  readonly #open = new Map<number, { engine: ProxyEngine; info: SharedPortInfo }>()

  constructor(settings: () => SharedPortSettings) {
    this.#settings = settings
  }

  /**
   * Starts a port for `upstreamId` of `profile` on `host` (127.0.0.1 unless given) and `port` (any
   * free one unless given).
   */
  async share(
    profile: Profile,
    upstreamId: string,
    where: { host?: string; port?: number } = {}
  ): Promise<Result<SharedPortInfo>> {
    const host = where.host ?? '127.0.0.1'
    if (!isLoopbackAddress(host))
      return fail(
        'invalid-input',
        `A port without a password can only listen on loopback (127.0.0.1 or ::1), not ${host}: anyone who reaches it could use the upstream's credentials`
      )
    const upstream = profile.upstreams.find((u) => u.id === upstreamId)
    if (!upstream) {
      const group = profile.groups?.find((g) => g.id === upstreamId)
      return group
        ? fail('invalid-input', `"${group.name}" is a group; share one of its upstreams`)
        : fail('not-found', `Profile "${profile.name}" has no saved upstream "${upstreamId}"`)
    }
    if (this.#open.size >= MAX_SHARED_PORTS)
      return fail('conflict', `At most ${MAX_SHARED_PORTS} ports can be shared at once; stop one first`)
    if (where.port !== undefined && this.#open.has(where.port))
      return fail('conflict', `Port ${where.port} is already shared`)
    const engine = new ProxyEngine({
      ...this.#settings(),
      host,
      port: where.port ?? 0,
      profile: sharedProfile(upstream, profile)
    })
    try {
      await engine.start()
    } catch (error) {
      return fail('conflict', (error as Error).message)
    }
    const port = engine.port!
    const info: SharedPortInfo = {
      host,
      port,
      url: `http://${hostPort(host, port)}`,
      profileId: profile.id,
      upstreamId: upstream.id,
      upstreamName: upstream.name,
      scheme: upstream.scheme,
      since: Date.now()
    }
    this.#open.set(port, { engine, info })
    return ok(info)
  }

  /** Open shared ports, oldest first. */
  list(): SharedPortInfo[] {
    return [...this.#open.values()].map((s) => s.info)
  }

  /** Stops listening on `port` and closes its connections. */
  async stop(port: number): Promise<Result<void>> {
    const shared = this.#open.get(port)
    if (!shared) return fail('not-found', `Port ${port} is not shared`)
    this.#open.delete(port)
    await shared.engine.stop()
    return ok(undefined)
  }

  /**
   * Brings the shares of profile `profileId` up to date after it was saved (`profile`) or deleted
   * (undefined): each follows its upstream as saved now, or stops when that upstream is gone.
   */
  async follow(profileId: string, profile: Profile | undefined): Promise<void> {
    for (const [port, { engine, info }] of this.#open) {
      if (info.profileId !== profileId) continue
      const upstream = profile?.upstreams.find((u) => u.id === info.upstreamId)
      if (!profile || !upstream) {
        await this.stop(port)
        continue
      }
      info.upstreamName = upstream.name
      info.scheme = upstream.scheme
      engine.applyProfile(sharedProfile(upstream, profile))
    }
  }

  /** Closes every shared port (on quit). */
  async stopAll(): Promise<void> {
    const all = [...this.#open.values()]
    this.#open.clear()
    await Promise.all(all.map((s) => s.engine.stop()))
  }
}

/** The one-upstream profile a shared port runs: everything through `upstream`, and its chain. */
function sharedProfile(upstream: Upstream, profile: Profile): Profile {
  return {
    id: `shared-${upstream.id}`,
    name: `Shared ${upstream.name}`,
    upstreams: chainTo(upstream, profile.upstreams),
    rules: [],
    defaultAction: { type: 'upstream', upstreamId: upstream.id }
  }
}
