/**
 * Find-and-replace edits on text bodies, compiled once per rule. Regular expressions run on RE2
 * (re2js): matching time grows linearly with the body, so no edit can stall the engine on a hostile
 * response, as a backtracking expression such as `(a+)+$` would.
 */
import { RE2JS } from 're2js'
import type { BodyEdit } from '../../common/model.ts'

export type TextEdit = (text: string) => string

/** Why `pattern` is not a valid RE2 expression, or null when it is. */
export function checkBodyPattern(pattern: string): string | null {
  try {
    RE2JS.compile(pattern)
    return null
  } catch (error) {
    return (error as Error).message
  }
}

const compiled = new WeakMap<readonly BodyEdit[], TextEdit>()

/** One function applying `edits` in order; compiled on first use and kept while the rule lives. */
export function bodyEditor(edits: readonly BodyEdit[]): TextEdit {
  let editor = compiled.get(edits)
  if (!editor) {
    const steps = edits.map((edit): TextEdit => {
      if (!edit.regex) return (text) => text.replaceAll(edit.find, edit.replace)
      const pattern = RE2JS.compile(edit.find)
      return (text) => pattern.matcher(text).replaceAll(edit.replace)
    })
    editor = (text) => steps.reduce((result, step) => step(result), text)
    compiled.set(edits, editor)
  }
  return editor
}
