/**
 * Fields this build does not know, kept so that saving a file does not drop what a newer Junction
 * wrote there (settings gain fields without a format version bump). Only keys the schema does not
 * define are kept: a known field the user cleared must stay cleared.
 */
export type Fields = Record<string, unknown>

/** The entries of `raw` (when it is an object) whose keys are not in `known`. */
export function unknownFields(raw: unknown, known: Iterable<string>): Fields {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {}
  const knownKeys = new Set(known)
  return Object.fromEntries(Object.entries(raw).filter(([key]) => !knownKeys.has(key)))
}

/** `value` with `kept` fields added; fields of `value` win. */
export function withFields<T extends object>(kept: Fields | undefined, value: T): T {
  return kept && Object.keys(kept).length > 0 ? { ...kept, ...value } : value
}
