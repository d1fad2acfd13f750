/**
 * Quitting must undo what Junction did to the machine even when part of it fails: every step runs
 * (in order: the OS proxy first, so nothing points at a proxy that is going away, then the engine),
 * a failing step is reported and skipped past, and the whole is capped so quitting never hangs.
 */
export interface ShutdownStep {
  name: string
  run: () => Promise<unknown>
}

export interface ShutdownReport {
  completed: string[]
  failed: { name: string; message: string }[]
  timedOut: boolean
}

export async function runShutdown(steps: ShutdownStep[], capMs = 3000): Promise<ShutdownReport> {
  const report: ShutdownReport = { completed: [], failed: [], timedOut: false }
  const all = (async () => {
    for (const step of steps) {
      try {
        await step.run()
        report.completed.push(step.name)
      } catch (error) {
        report.failed.push({ name: step.name, message: (error as Error).message })
      }
    }
  })()
  let timer: NodeJS.Timeout | undefined
  const cap = new Promise<'cap'>((resolve) => {
    timer = setTimeout(() => resolve('cap'), capMs)
  })
  const winner = await Promise.race([all.then(() => 'done' as const), cap])
  clearTimeout(timer)
  report.timedOut = winner === 'cap'
  return report
}
