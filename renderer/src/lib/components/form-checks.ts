/**
 * Checks the forms run while the user types: the engine's own matcher checks (common/) and the zod
 * schemas, so the form says what saving would.
 */
import { checkMatcherValue } from '../../../../common/matcher-checks.ts'
import type { z } from 'zod'
import type { HeaderEdit, Matcher, Rewrite } from '../../../../common/model.ts'

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

const LIST_NAMES: Record<string, string> = {
  upstreams: 'upstream',
  rules: 'rule',
  matchers: 'matcher',
  request: 'request header edit',
  response: 'response header edit'
}

/**
 * Zod issues in words, e.g. `upstream #1, host: must not be empty` or `request header edit #2, name:
 * …` (as main/rules/validate.ts says it), joined by "; ".
 */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const parts: string[] = []
      for (const key of issue.path) {
        const last = parts.length - 1
        if (typeof key === 'number' && last >= 0 && parts[last]! in LIST_NAMES)
          parts[last] = `${LIST_NAMES[parts[last]!]} #${key + 1}`
        else if (key !== 'rewrite') parts.push(String(key))
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

/** A header edit as its table row holds it: the value survives switching to `remove` and back. */
export interface HeaderEditRow {
  key: string
  op: HeaderEdit['op']
  name: string
  value: string
}

export function headerEditRows(edits: readonly HeaderEdit[] | undefined): HeaderEditRow[] {
  return (edits ?? []).map((edit) => ({
    key: newId('h'),
    op: edit.op,
    name: edit.name,
    value: edit.value ?? ''
  }))
}

/** The edit a row stands for, not yet validated; a stray space around the name is not meant. */
export function toHeaderEdit(row: HeaderEditRow): HeaderEdit {
  const name = row.name.trim()
  return row.op === 'remove' ? { op: row.op, name } : { op: row.op, name, value: row.value }
}

/** A rule's `rewrite` from its two tables; absent when both are empty, as in files written by hand. */
export function toRewrite(request: HeaderEditRow[], response: HeaderEditRow[]): Rewrite | undefined {
  if (request.length === 0 && response.length === 0) return undefined
  return {
    ...(request.length > 0 ? { request: request.map(toHeaderEdit) } : {}),
    ...(response.length > 0 ? { response: response.map(toHeaderEdit) } : {})
  }
}
