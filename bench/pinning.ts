/**
 * CPU pinning for the peers benchmark: the proxy under test on one core, the load generator and the
 * origins on the other, so a proxy never competes with its own load for a CPU and every peer gets
 * the same share of the machine. Uses util-linux `taskset`; on a machine with one CPU, or without
 * taskset, nothing is pinned and the report says so.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import os from 'node:os'

const TASKSET = '/usr/bin/taskset'
/** The proxy under test runs here. */
export const PROXY_CPU = 0
/** This process (load generators, wrk) and the origins run here. */
export const LOAD_CPU = 1

export interface Pinning {
  pinned: boolean
  /** One line for the report. */
  description: string
}

/**
 * Pins this process — every thread, and so every child started after it — to LOAD_CPU. Children
 * that should run on PROXY_CPU are started through `pinnedCommand`.
 */
export function pinSelfToLoadCpu(): Pinning {
  const cpus = os.availableParallelism()
  if (cpus < 2 || !existsSync(TASKSET))
    return {
      pinned: false,
      description: `not pinned (${cpus} CPU, taskset ${existsSync(TASKSET) ? 'found' : 'missing'})`
    }
  execFileSync(TASKSET, ['--all-tasks', '--cpu-list', '--pid', String(LOAD_CPU), String(process.pid)], {
    stdio: 'ignore'
  })
  return {
    pinned: true,
    description: `proxy on CPU ${PROXY_CPU}; load generator, wrk and origins on CPU ${LOAD_CPU} (taskset)`
  }
}

/** `[file, args]` that runs `file args` on PROXY_CPU when pinning is on. */
export function pinnedCommand(pinning: Pinning, file: string, args: string[]): [string, string[]] {
  return pinning.pinned ? [TASKSET, ['--cpu-list', String(PROXY_CPU), file, ...args]] : [file, args]
}

/** Moves a running process (every thread) to PROXY_CPU when pinning is on. */
export function pinToProxyCpu(pinning: Pinning, pid: number): void {
  if (!pinning.pinned) return
  execFileSync(TASKSET, ['--all-tasks', '--cpu-list', '--pid', String(PROXY_CPU), String(pid)], {
    stdio: 'ignore'
  })
}
