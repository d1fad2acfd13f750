/**
 * Upstream groups: which member carries a request, by the group's strategy and the members' passive
 * health (upstream-health.ts).
 *
 * A group routes to an ordered list of members: the strategy's pick first, then the others it would
 * fall back to. Transport walks down the list when a member fails before its client got any byte
 * (route.ts `nextMember`). Members marked down come last, in the group's order, so that a group whose
 * members are all down still tries them: stale health never leaves the user offline.
 *
 * - `failover`: members that are up, in order.
 * - `round-robin`: members that are up, starting one further at each request.
 * - `lowest-latency`: members that are up, fastest measured first (unmeasured after, in order). While
 *   the group carries traffic it measures its members at most every `testIntervalMinutes`; an idle
 *   group measures nothing.
 * - `manual`: the selected member alone (the first when none is selected), as Clash's selector: the
 *   user chose it, so Junction does not send the traffic elsewhere behind their back.
 */
import {
  DEFAULT_LATENCY_TEST_URL,
  DEFAULT_TEST_INTERVAL_MINUTES,
  type Profile,
  type Upstream,
  type UpstreamGroup
} from '../../common/model.ts'
import type { GroupMemberStatus, GroupStatus } from '../../common/ipc-contract.ts'
import type { ErrorReply, JunctionErrorCode } from './errors.ts'
import { measureAll, type LatencyProbe, type UpstreamHealth } from './upstream-health.ts'
import type { UpstreamConnector } from './upstream-connect.ts'

/**
 * Failures that are the member's own: it refused the connection, reset it, did not answer in time,
 * refused Junction's credentials, or (an HTTPS upstream) showed a certificate Junction refuses. A member that answered that it could not reach the target (a 502 to
 * CONNECT, a SOCKS "host unreachable") is up, and so is one that timed out waiting for the target's
 * response after the request was sent: transport.ts does not report those here.
 */
const MEMBER_FAULTS: ReadonlySet<JunctionErrorCode> = new Set([
  'upstream-refused',
  'upstream-reset',
  'upstream-timeout',
  'upstream-auth-failed',
  'upstream-certificate-invalid'
])

/** How long a member's last answer vouches for it when a request through it goes quiet. */
const RECENTLY_ANSWERED_MS = 60_000

export function isMemberFault(reply: ErrorReply): boolean {
  return MEMBER_FAULTS.has(reply.code)
}

export class GroupRouter {
  readonly group: UpstreamGroup
  private readonly members: UpstreamConnector[]
  /** Every upstream of the profile, for measuring members reached through others. */
  private readonly companions: readonly Upstream[]
  private readonly health: UpstreamHealth
  private readonly probe: LatencyProbe | null
  private turn = 0

  constructor(
    group: UpstreamGroup,
    members: UpstreamConnector[],
    companions: readonly Upstream[],
    health: UpstreamHealth,
    probe: LatencyProbe | null
  ) {
    this.group = group
    this.members = members
    this.companions = companions
    this.health = health
    this.probe = probe
  }

  /** The members one request tries, in order; never empty. */
  order(): UpstreamConnector[] {
    const { strategy } = this.group
    if (strategy === 'manual') {
      const selected = this.members.find((m) => m.upstream.id === this.group.selected)
      return [selected ?? this.members[0]!]
    }
    const up: UpstreamConnector[] = []
    const down: UpstreamConnector[] = []
    for (const member of this.members) (this.health.isUp(member.upstream.id) ? up : down).push(member)
    if (strategy === 'round-robin' && up.length > 1) {
      const start = this.turn++ % up.length
      return [...up.slice(start), ...up.slice(0, start), ...down]
    }
    if (strategy === 'lowest-latency') {
      this.measureIfDue()
      const latency = (m: UpstreamConnector): number => this.health.get(m.upstream.id).latencyMs ?? Infinity
      // Array.prototype.sort is stable: equal (and unmeasured) members keep the group's order.
      up.sort((a, b) => latency(a) - latency(b))
    }
    return [...up, ...down]
  }

  failed(member: UpstreamConnector, reply: ErrorReply): void {
    this.health.failed(member.upstream, reply.message)
  }

  succeeded(member: UpstreamConnector): void {
    this.health.succeeded(member.upstream)
  }

  /**
   * Whether a member that stays silent after taking a request is suspect: it has not answered anything
   * for a minute (or ever). A member that answered lately is waiting on a slow target, a long poll.
   */
  suspectSilence(member: UpstreamConnector): boolean {
    return !this.health.answeredWithin(member.upstream.id, RECENTLY_ANSWERED_MS)
  }

  /** Starts measuring every member in the background when the group's interval has passed. */
  private measureIfDue(): void {
    const minutes = this.group.testIntervalMinutes ?? DEFAULT_TEST_INTERVAL_MINUTES
    if (!this.probe || !this.health.claimMeasurement(this.group.id, minutes * 60_000)) return
    const url = this.group.testUrl ?? DEFAULT_LATENCY_TEST_URL
    void measureAll(
      this.members.map((m) => m.upstream),
      this.companions,
      url,
      this.probe,
      (upstream, result) => this.health.measured(upstream, result)
    )
  }
}

/**
 * The groups of `profile` as the Profiles view shows them; `health` is the engine's when the profile
 * is the running one, null otherwise (every member then shows up and unmeasured).
 */
export function describeGroups(
  profile: Profile,
  health: UpstreamHealth | null,
  now = Date.now()
): GroupStatus[] {
  return (profile.groups ?? []).map((group) => {
    const members: GroupMemberStatus[] = group.members.map((upstreamId) => {
      const known = health?.get(upstreamId)
      const down = (known?.downUntil ?? 0) > now
      return {
        upstreamId,
        state: down ? 'down' : 'up',
        downUntil: down ? known!.downUntil : null,
        failures: known?.failures ?? 0,
        latencyMs: known?.latencyMs ?? null,
        measuredAt: known?.measuredAt ?? null,
        lastError: known?.lastError ?? null,
        lastErrorAt: known?.lastErrorAt ?? null
      }
    })
    return { groupId: group.id, current: preferred(group, members), members }
  })
}

/** The member a group's next request tries first, as `order` would pick it (round-robin: none). */
function preferred(group: UpstreamGroup, members: GroupMemberStatus[]): string | null {
  if (group.strategy === 'manual')
    return group.members.includes(group.selected ?? '') ? group.selected! : group.members[0]!
  if (group.strategy === 'round-robin') return null
  const up = members.filter((m) => m.state === 'up')
  if (group.strategy === 'lowest-latency')
    up.sort((a, b) => (a.latencyMs ?? Infinity) - (b.latencyMs ?? Infinity))
  return (up[0] ?? members[0]!).upstreamId
}
