/**
 * What the Rules view shows of a rule, and the search over exactly that: a rule is found by any word
 * on its row — its name, its matchers, its action and the upstream or group it names.
 */
import type { Action, Profile, Rule } from '../../../../../common/model.ts'
import { matcherText } from '../../../../../common/rule-lines.ts'

/** `direct`, `block 403`, `reject`, `via Squid` (an upstream) or `via Pool (group)`. */
export function actionText(action: Action, profile: Profile): string {
  switch (action.type) {
    case 'upstream': {
      const upstream = profile.upstreams.find((u) => u.id === action.upstreamId)
      if (upstream) return `via ${upstream.name}`
      const group = profile.groups?.find((g) => g.id === action.upstreamId)
      return group ? `via ${group.name} (group)` : `via ${action.upstreamId}`
    }
    case 'block':
      return `block ${action.status}`
    default:
      return action.type
  }
}

/**
 * `domain example.com and port 443 → via Squid`, `header "User-Agent: curl/8 x" → block 403`: values
 * with spaces quoted as a pasted line writes them, so the row shows where each value ends.
 */
export function ruleSummary(rule: Rule, profile: Profile): string {
  return `${rule.matchers.map(matcherText).join(' and ')} → ${actionText(rule.action, profile)}`
}

/**
 * Lowercased row texts, computed once per rule object: a search over 100,000 rules then costs one
 * `includes` per word and rule. A new index is made when the profile's upstreams or groups change,
 * since their names are part of what is shown.
 */
export class RuleSearchIndex {
  #texts = new WeakMap<Rule, string>()
  #upstreams: unknown = null
  #groups: unknown = null

  text(rule: Rule, profile: Profile): string {
    if (profile.upstreams !== this.#upstreams || profile.groups !== this.#groups) {
      this.#texts = new WeakMap()
      this.#upstreams = profile.upstreams
      this.#groups = profile.groups
    }
    let text = this.#texts.get(rule)
    if (text === undefined) {
      text =
        `${rule.name ?? ''}\n${ruleSummary(rule, profile)}${rule.enabled ? '' : '\noff disabled'}`.toLowerCase()
      this.#texts.set(rule, text)
    }
    return text
  }

  /** Positions (in the profile's list) of the rules showing every word of `query`; all when empty. */
  filter(profile: Profile, query: string): number[] {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean)
    const out: number[] = []
    const { rules } = profile
    for (let i = 0; i < rules.length; i++) {
      if (words.length === 0) out.push(i)
      else {
        const text = this.text(rules[i]!, profile)
        if (words.every((word) => text.includes(word))) out.push(i)
      }
    }
    return out
  }
}
