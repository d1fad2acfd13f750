/**
 * The shape of a message catalogue. A message is text with `{name}` placeholders, or plural forms
 * chosen by `Intl.PluralRules` from the `count` parameter (English needs `one` and `other`; Chinese
 * has only `other`).
 */
export type Plural = { readonly one?: string; readonly other: string }
export type Message = string | Plural
