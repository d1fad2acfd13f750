/**
 * The text of a config file: JSON indented by two spaces, as `JSON.stringify(value, null, 2)` writes
 * it, except that a list given as `LineList` is written one item per line. A profile's rules are such
 * a list: 100,000 rules take 13 MiB instead of 29, a change to one rule changes one line of the file,
 * and the caller can keep each rule's line from one save to the next instead of writing it again.
 */
import { randomBytes } from 'node:crypto'

/** A list whose items are already JSON text, one line each (no line breaks in them). */
export class LineList {
  readonly lines: readonly string[]
  constructor(lines: readonly string[]) {
    this.lines = lines
  }
}

export function configText(value: unknown): string {
  const lists: LineList[] = []
  // Stands where each list goes; random, so no string in the document can be taken for one.
  const mark = `line-list-${randomBytes(8).toString('hex')}-`
  const text = JSON.stringify(
    value,
    (_key, item: unknown) => (item instanceof LineList ? `${mark}${lists.push(item) - 1}` : item),
    2
  )
  if (lists.length === 0) return text
  const parts = text.split(new RegExp(`"${mark}(\\d+)"`))
  let out = parts[0]!
  for (let i = 1; i < parts.length; i += 2) {
    const { lines } = lists[Number(parts[i])]!
    // The indentation of the line the list starts on, read from the text before it (not `out`, which
    // may already hold other lists' 100,000 lines).
    const before = parts[i - 1]!
    const indent = /^ */.exec(before.slice(before.lastIndexOf('\n') + 1))![0]
    out += lines.length === 0 ? '[]' : `[\n${indent}  ${lines.join(`,\n${indent}  `)}\n${indent}]`
    out += parts[i + 1]!
  }
  return out
}
