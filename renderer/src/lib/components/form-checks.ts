/**
 * Checks the forms run while the user types: the engine's own matcher checks (common/) and the zod
 * schemas, so the form says what saving would.
 */
import { checkMatcherValue } from '../../../../common/matcher-checks.ts'
import type { z } from 'zod'
import type { Matcher } from '../../../../common/model.ts'

/** Ids the schemas accept: letters, digits, "-" and "_". */
export function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`
}

/** Zod issues keyed by their path joined with dots (e.g. `upstreams.0.host`); the first issue wins. */
export function issuesByPath(error: z.ZodError | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const issue of error?.issues ?? []) out[issue.path.join('.')] ??= issue.message
  return out
}

const LIST_NAMES: Record<string, string> = { upstreams: 'upstream', rules: 'rule', matchers: 'matcher' }

/** Zod issues in words, e.g. `upstream #1, host: must not be empty`, joined by "; ". */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const parts: string[] = []
      for (const key of issue.path) {
        const last = parts.length - 1
        if (typeof key === 'number' && last >= 0 && parts[last]! in LIST_NAMES)
          parts[last] = `${LIST_NAMES[parts[last]!]} #${key + 1}`
        else parts.push(String(key))
      }
      return parts.length ? `${parts.join(', ')}: ${issue.message}` : issue.message
    })
    .join('; ')
}

/**
 * The semantic problem with a matcher's value, or null: the engine's own check, so the form says what
 * saving would. Empty values are left to the schema.
 */
export function checkMatcher(matcher: Matcher): string | null {
  return matcher.value.trim() === '' ? null : checkMatcherValue(matcher)
}
