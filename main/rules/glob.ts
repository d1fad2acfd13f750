/**
 * `*` patterns (host wildcards, paths, header values) matched in at most text × pattern steps. A
 * RegExp built from `*a*a*a*b` backtracks polynomially, and the text it runs on — a host name, a
 * path, a header — is chosen by whoever sends the request.
 */

export interface GlobOptions {
  /** `?` stands for exactly one character (PAC shExpMatch); otherwise it is literal. */
  question: boolean
  ignoreCase: boolean
}

/** A predicate that is true when `pattern` matches the whole text. */
export function compileGlob(pattern: string, options: GlobOptions): (text: string) => boolean {
  const any = options.question ? '?' : null
  const parts = (options.ignoreCase ? pattern.toLowerCase() : pattern).split('*')
  const first = parts[0]!
  const last = parts[parts.length - 1]!
  const middle = parts.slice(1, -1).filter((part) => part.length > 0)

  /** Whether `part` matches `text` at `at` (the caller checked it fits). */
  const fits = (text: string, at: number, part: string): boolean => {
    for (let k = 0; k < part.length; k++) {
      const ch = part[k]
      if (ch !== any && ch !== text[at + k]) return false
    }
    return true
  }

  return (input) => {
    const text = options.ignoreCase ? input.toLowerCase() : input
    if (parts.length === 1) return text.length === first.length && fits(text, 0, first)
    const end = text.length - last.length
    if (end < first.length || !fits(text, 0, first) || !fits(text, end, last)) return false
    // Each middle part at its leftmost place after the previous one: with fixed-length parts between
    // stars, the leftmost choice never rules out a match a later one would allow.
    let at = first.length
    for (const part of middle) {
      let found = -1
      for (let i = at; i + part.length <= end; i++)
        if (fits(text, i, part)) {
          found = i
          break
        }
      if (found === -1) return false
      at = found + part.length
    }
    return true
  }
}
