/**
 * The watchdog as a `/bin/sh` script (dash: 1.7 MiB resident here, where the Node watchdog takes
 * 67 MiB, for as long as the system proxy is on). It does what watchdog.ts does, with the restore computed ahead
 * of time: Junction turns the journal's snapshot into a restore plan (restore-plan.ts) when it arms the
 * watchdog, and this module writes that plan into the script, every word single-quoted.
 *
 * The protocol is the Node watchdog's: wait on standard input; `disarm` → exit; end of input (Junction
 * is gone) → take the journal by renaming it to `<journal>.claimed-<pid>` (the shell's own pid, so
 * journal.ts sees a live claim while the restore runs and a dead one if it is killed half-way), run the
 * plan, delete the claim; if a step failed, hand the journal back for the next start.
 */
import type { RestorePlan, RestoreStep } from './restore-plan.ts'
import { DISARM } from './watchdog.ts'

/** One shell word: single quotes, each `'` written as `'\''`; nothing inside single quotes is special. */
export const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`

/** The environment variable that carries the script: a command line is readable by every local user. */
export const SCRIPT_VARIABLE = 'JUNCTION_WATCHDOG'

/** The whole command line; the journal's path is `$1`. */
export const SCRIPT_COMMAND = `eval "$${SCRIPT_VARIABLE}"`

// Runs one step and remembers the first failure; a missing program (status 127) ends the restore, as
// runPlan does. With a pattern, output that matches it is a failure too.
const PRELUDE = `
trap '' INT HUP TERM PIPE
unset ${SCRIPT_VARIABLE}
journal=$1
line=
while IFS= read -r line; do
  [ "$line" = ${DISARM} ] && exit 0
done
[ "$line" = ${DISARM} ] && exit 0
log() { printf '[junction] watchdog: %s\\n' "$1" >&2; }
claimed="$journal.claimed-$$"
if ! mv -- "$journal" "$claimed" 2>/dev/null; then
  [ -e "$journal" ] || exit 0
  log "cannot take the journal $journal; the next start will restore it"
  exit 1
fi
failure=
finish() {
  if [ -z "$failure" ]; then
    rm -f -- "$claimed"
    log 'Junction stopped without restoring the system proxy; restored the settings it found'
    exit 0
  fi
  ln -- "$claimed" "$journal" 2>/dev/null
  rm -f -- "$claimed"
  log "Junction stopped and restoring the system proxy failed ($failure); the next start will try again"
  exit 1
}
step() {
  pattern=$1
  shift
  out=$("$@" 2>&1)
  code=$?
  if [ "$code" -eq 0 ] && [ -n "$pattern" ] && printf '%s\\n' "$out" | grep -qiE -- "$pattern"; then code=1; fi
  [ "$code" -eq 0 ] && return 0
  if [ "$code" -eq 127 ]; then
    failure="$1 was not found"
    finish
  fi
  [ -n "$failure" ] || failure="$1 failed (exit $code)"
}
`

function stepLine(step: RestoreStep): string {
  if ('removeIfEmpty' in step) {
    const file = shellQuote(step.removeIfEmpty)
    return `[ -s ${file} ] || step '' rm -f -- ${file}`
  }
  const words = step.command.map(shellQuote).join(' ')
  return step.optional ? `${words} >/dev/null 2>&1` : `step ${shellQuote(step.failsOn ?? '')} ${words}`
}

/** The script for one plan. */
export function watchdogScript(plan: RestorePlan): string {
  return `${PRELUDE}${plan.steps.map(stepLine).join('\n')}\nfinish\n`
}
