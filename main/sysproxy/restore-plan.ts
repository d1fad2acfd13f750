/**
 * A restore as data: the exact commands that write a snapshot back, computed once in TypeScript. Junction
 * runs a plan itself (`runPlan`) when it turns the proxy off, and hands the same plan to the shell
 * watchdog (watchdog-script.ts) for the case where it dies; one source for both, so they cannot drift.
 *
 * Both runners follow `runAll`'s failure rule: every step runs even when one fails, so a restore puts
 * back as much as it can, and the first failure is reported at the end; a missing program stops at
 * once, since every later step would fail the same way.
 */
import { promises as fs } from 'node:fs'
import { CommandError, runAll, type CommandRunner } from './command-runner.ts'

export type RestoreStep =
  | {
      /** Program, then arguments; run without a shell (the watchdog quotes every word). */
      command: string[]
      /** Its failure is not a failed restore (a notification that may have no listener). */
      optional?: boolean
      /**
       * An extended regular expression, matched case-insensitively per line of the output: a match is
       * a failure even when the exit status is 0 (networksetup prints its errors and exits 0).
       */
      failsOn?: string
    }
  /** Deletes a file left empty (KDE's kioslaverc when Junction created it). */
  | { removeIfEmpty: string }

export interface RestorePlan {
  steps: RestoreStep[]
}

/** The JavaScript reading of a step's `failsOn` (both dialects accept the subset the platforms use). */
export const failsOnRegExp = (pattern: string): RegExp => new RegExp(pattern, 'im')

/** Runs a plan here, through `run` (so tests and platforms can record or wrap each command). */
export const runPlan = (plan: RestorePlan, run: CommandRunner): Promise<void> =>
  runAll(plan.steps.map((step) => () => runStep(step, run)))

async function runStep(step: RestoreStep, run: CommandRunner): Promise<void> {
  if ('removeIfEmpty' in step) {
    const file = step.removeIfEmpty
    if ((await fs.stat(file).catch(() => null))?.size === 0) await fs.rm(file, { force: true })
    return
  }
  const [file, ...args] = step.command
  try {
    const { stdout, stderr } = await run(file!, args)
    const output = `${stdout}\n${stderr}`
    if (step.failsOn !== undefined && failsOnRegExp(step.failsOn).test(output))
      throw new CommandError('failed', file!, `${file} ${args[0] ?? ''} failed: ${output.trim()}`)
  } catch (error) {
    if (!step.optional) throw error
  }
}
