/**
 * Where rules end up when some are put at given positions, in one place for the service that saves a
 * change and the Rules view that shows it at once: both must agree on the resulting order. Pure.
 */
import { fail, ok, type Result } from './result.ts'

/**
 * `base` with each entry's item at its `index` in the result, entries taken in ascending order of
 * position — so items put back at the positions they were taken from land exactly where they were.
 * O(base + entries): a profile may hold 100,000 rules and a paste thousands.
 */
export function placeAt<T>(base: readonly T[], entries: readonly { item: T; index: number }[]): Result<T[]> {
  const sorted = [...entries].sort((a, b) => a.index - b.index)
  const out: T[] = []
  let next = 0
  for (const [k, { item, index }] of sorted.entries()) {
    if (k > 0 && sorted[k - 1]!.index === index)
      return fail('invalid-input', `Two rules cannot both go to position ${index + 1}`)
    while (out.length < index && next < base.length) out.push(base[next++]!)
    if (out.length < index)
      return fail(
        'invalid-input',
        `Position ${index + 1} is past the end of the list (${base.length + sorted.length} rules after this change)`
      )
    out.push(item)
  }
  while (next < base.length) out.push(base[next++]!)
  return ok(out)
}

/** Positions for moving `ids` (in list order) as one block whose first rule lands at `to`. */
export function blockAt(ids: readonly string[], to: number): { ruleId: string; index: number }[] {
  return ids.map((ruleId, i) => ({ ruleId, index: to + i }))
}
