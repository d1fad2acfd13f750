/**
 * Zod compiles object parsers with `new Function` when it may, and its probe for that breaks the UI's
 * Content-Security-Policy (`script-src 'self'`, no eval): Chromium reports a violation on every load.
 * Parsing without compiled code is plenty fast for forms. main.ts imports this first, so that no
 * schema parses before it.
 */
import { z } from 'zod'

z.config({ jitless: true })
