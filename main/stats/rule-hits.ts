/**
 * How often each rule decided a request or tunnel, and when it last did, since Junction started — the
 * Rules view shows both next to each rule. Fed by the engine's accounting (account.ts) once per routed
 * request or tunnel that a rule (not the default action) decided; read by the Rules view a profile at
 * a time. In memory only, like the live statistics.
 */
import type { RuleHit } from '../../common/ipc-contract.ts'

interface Hits {
  count: number
  lastAt: number
}

export class RuleHits {
  /** Profile id → rule id → hits. Only rules that were hit have an entry. */
  private readonly byProfile = new Map<string, Map<string, Hits>>()

  hit(profileId: string, ruleId: string, at: number): void {
    let rules = this.byProfile.get(profileId)
    if (!rules) this.byProfile.set(profileId, (rules = new Map()))
    const hits = rules.get(ruleId)
    if (hits) {
      hits.count++
      hits.lastAt = at
    } else rules.set(ruleId, { count: 1, lastAt: at })
  }

  /** The profile's rules that were hit, in no particular order. */
  list(profileId: string): RuleHit[] {
    const rules = this.byProfile.get(profileId)
    if (!rules) return []
    return Array.from(rules, ([ruleId, { count, lastAt }]) => ({ ruleId, count, lastAt }))
  }

  /**
   * Drops a deleted profile's counts. A deleted rule's count stays (its undo brings the rule back with
   * it); only rules that were hit since start have one, so they cannot pile up beyond that.
   */
  forget(profileId: string): void {
    this.byProfile.delete(profileId)
  }
}
