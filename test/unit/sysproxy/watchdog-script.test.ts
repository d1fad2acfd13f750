/**
 * The shell watchdog, run for real by /bin/sh: its protocol (disarm, end of input, the journal claim
 * shared with journal.ts), its failure rules (those of runPlan), and its quoting, checked by running
 * generated scripts with hostile values through fake `gsettings`/`networksetup` programs that record
 * their exact argv.
 */
import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMacPlatform, NETWORKSETUP, type MacServiceSettings } from '../../../main/sysproxy/darwin.ts'
import { gnomeRestorePlan, GNOME_KEYS } from '../../../main/sysproxy/gnome.ts'
import { writeJournal, type Journal } from '../../../main/sysproxy/journal.ts'
import type { RestorePlan } from '../../../main/sysproxy/restore-plan.ts'
import { SystemProxy } from '../../../main/sysproxy/system-proxy.ts'
import type {
  DesiredProxy,
  OsSnapshot,
  ProxyView,
  SystemProxyPlatform
} from '../../../main/sysproxy/types.ts'
import { DISARM } from '../../../main/sysproxy/watchdog.ts'
import { headlessWatchdog, watchdogs } from '../../../main/sysproxy/watchdog-launch.ts'
import {
  SCRIPT_COMMAND,
  SCRIPT_VARIABLE,
  shellQuote,
  watchdogScript
} from '../../../main/sysproxy/watchdog-script.ts'

/** Words a shell would expand, split, glob or end a string at, if they were not quoted right. */
const HOSTILE = [
  "it's",
  "'",
  "'\\''",
  '"double" \\"escaped\\"',
  '$(touch PWNED)',
  '`touch PWNED`',
  '${HOME} $HOME $1 $$ $@',
  'two\nlines\n',
  '  spaces  and\ttab  ',
  '*',
  '; touch PWNED; #',
  '&& touch PWNED || |',
  '-n',
  '--',
  '',
  '\\',
  'Büro – ✓'
]

let dir: string
let journalPath: string
let bin: string
let record: string
/** Watchdogs started here: each leads its own process group (with any fake still sleeping in it). */
const groups: number[] = []

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-shwatch-'))
  journalPath = path.join(dir, 'sysproxy-journal.json')
  bin = path.join(dir, 'bin')
  record = path.join(dir, 'record')
  await fs.mkdir(bin)
  // Each call appends: program name, argument count, the arguments; NUL-separated, so any byte but
  // NUL survives. A listing of the journal's folder shows who holds the journal meanwhile.
  const fake = [
    '#!/bin/sh',
    `printf '%s\\0' "\${0##*/}" "$#" "$@" >> ${shellQuote(record)}`,
    `ls ${shellQuote(dir)} | grep journal >> ${shellQuote(`${record}.listing`)}`,
    '[ -z "$FAKE_OUTPUT" ] || printf \'%s\\n\' "$FAKE_OUTPUT"',
    '[ -z "$FAKE_SLEEP" ] || sleep "$FAKE_SLEEP"',
    'exit "${FAKE_EXIT:-0}"'
  ].join('\n')
  for (const name of ['gsettings', 'networksetup']) {
    await fs.writeFile(path.join(bin, name), `${fake}\n`)
    await fs.chmod(path.join(bin, name), 0o755)
  }
})

afterEach(async () => {
  for (const pid of groups.splice(0))
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  await fs.rm(dir, { recursive: true, force: true })
})

/** The recorded calls, as argv lists. */
async function calls(): Promise<string[][]> {
  const tokens = (await fs.readFile(record, 'utf8').catch(() => '')).split('\0')
  const out: string[][] = []
  for (let i = 0; i + 1 < tokens.length;) {
    const name = tokens[i]!
    const count = Number(tokens[i + 1])
    out.push([name, ...tokens.slice(i + 2, i + 2 + count)])
    i += 2 + count
  }
  return out
}

/** Starts a watchdog for `plan` the way watchdog-launch.ts does, with the fakes first on PATH. */
function startScript(plan: RestorePlan, env: Record<string, string> = {}) {
  const child = spawn('/bin/sh', ['-c', SCRIPT_COMMAND, 'junction-watchdog', journalPath], {
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      ...env,
      [SCRIPT_VARIABLE]: watchdogScript(plan)
    },
    cwd: dir,
    detached: true,
    stdio: ['pipe', 'ignore', 'pipe']
  })
  groups.push(child.pid!)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, exited, stderr: () => stderr }
}

const MANUAL: Extract<DesiredProxy, { mode: 'manual' }> = {
  mode: 'manual',
  http: { host: '127.0.0.1', port: 8899 },
  https: { host: '127.0.0.1', port: 8899 },
  socks: { host: '127.0.0.1', port: 8899 },
  bypass: ['localhost']
}
const NONE: ProxyView = {
  mode: 'none',
  http: null,
  https: null,
  socks: null,
  bypass: [],
  pacUrl: null,
  autoDetect: false
}
const PAC: Extract<DesiredProxy, { mode: 'pac' }> = { mode: 'pac', url: 'http://127.0.0.1:8899/proxy.pac' }

const journal = (snapshot: OsSnapshot): Journal => ({
  version: 1,
  platform: snapshot.platform,
  snapshot,
  desired: MANUAL,
  at: '2026-11-29T05:00:00.000Z'
})

/** A GNOME snapshot whose every value is hostile, and some keys at their default. */
function hostileGnome(): OsSnapshot {
  const values: Record<string, string> = {}
  GNOME_KEYS.forEach(([schema, key], i) => (values[`${schema} ${key}`] = HOSTILE[i % HOSTILE.length]!))
  return { platform: 'gnome', data: { values, unset: ['org.gnome.system.proxy.socks port'] } }
}

const argvOf = (plan: RestorePlan) =>
  plan.steps.map((s) => {
    if (!('command' in s)) throw new Error('not a command')
    return [path.basename(s.command[0]!), ...s.command.slice(1)]
  })

describe('shellQuote', () => {
  it('gives sh back every hostile word exactly', async () => {
    const script = `printf '%s\\0' ${HOSTILE.map(shellQuote).join(' ')}`
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] })
      let text = ''
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()))
      child.once('error', reject)
      child.once('exit', () => resolve(text))
    })
    expect(out.split('\0').slice(0, -1)).toEqual(HOSTILE)
    expect(await fs.readdir(dir)).not.toContain('PWNED')
  })
})

describe('the shell watchdog', () => {
  it('end of input: takes the journal as .claimed-<its pid>, runs the GNOME plan with the exact argv, removes it', async () => {
    const snapshot = hostileGnome()
    const plan = gnomeRestorePlan(snapshot)
    await writeJournal(journalPath, journal(snapshot))
    const watchdog = startScript(plan)
    watchdog.child.stdin!.end()
    expect(await watchdog.exited).toBe(0)
    expect(await calls()).toEqual(argvOf(plan))
    expect(argvOf(plan).at(-1)?.slice(0, 4)).toEqual(['gsettings', 'set', 'org.gnome.system.proxy', 'mode'])
    expect(argvOf(plan)).toContainEqual(['gsettings', 'reset', 'org.gnome.system.proxy.socks', 'port'])
    // While the commands ran, the journal was held under the shell's pid, as journal.ts expects.
    const listing = (await fs.readFile(`${record}.listing`, 'utf8')).split('\n').filter(Boolean)
    expect(new Set(listing)).toEqual(new Set([`sysproxy-journal.json.claimed-${watchdog.child.pid}`]))
    expect(watchdog.stderr()).toMatch(
      /^\[junction\] watchdog: Junction stopped without restoring the system proxy; restored/
    )
    expect((await fs.readdir(dir)).filter((n) => n.includes('journal'))).toEqual([])
    expect(await fs.readdir(dir)).not.toContain('PWNED')
  })

  it('macOS: hostile service names and bypass domains reach networksetup exactly', async () => {
    const never = { enabled: false, server: '', port: 0, authenticated: false }
    const service = (name: string, bypass: string[]): MacServiceSettings => ({
      name,
      web: { enabled: true, server: "proxy'$(touch PWNED)", port: 3128, authenticated: true },
      secure: never,
      socks: never,
      bypass,
      autoProxyUrl: 'http://pac.example/`touch PWNED`.pac',
      autoProxyEnabled: false,
      autoDiscovery: true
    })
    const snapshot: OsSnapshot = {
      platform: 'macos',
      data: { services: [service("Wi-Fi 'Büro' $(touch PWNED)", HOSTILE), service('USB 10/100 LAN\nx', [])] }
    }
    const plan = createMacPlatform().restorePlan!(snapshot, [MANUAL, PAC])
    const faked: RestorePlan = {
      steps: plan.steps.map((s) =>
        'command' in s ? { ...s, command: [path.join(bin, 'networksetup'), ...s.command.slice(1)] } : s
      )
    }
    expect(plan.steps.every((s) => 'command' in s && s.command[0] === NETWORKSETUP)).toBe(true)
    await writeJournal(journalPath, journal(snapshot))
    const watchdog = startScript(faked)
    watchdog.child.stdin!.end()
    expect(await watchdog.exited).toBe(0)
    expect(await calls()).toEqual(argvOf(plan))
    expect(await calls()).toContainEqual([
      'networksetup',
      '-setproxybypassdomains',
      "Wi-Fi 'Büro' $(touch PWNED)",
      ...HOSTILE
    ])
    expect(await fs.readdir(dir)).not.toContain('PWNED')
  })

  it('networksetup printing an error with exit 0 fails the restore; every step still runs; the journal goes back', async () => {
    const snapshot = hostileGnome()
    const plan: RestorePlan = {
      steps: [
        { command: ['networksetup', '-setwebproxystate', 'Wi-Fi', 'off'], failsOn: '^ *\\*\\* Error' },
        { command: ['gsettings', 'reset', 'a', 'b'] }
      ]
    }
    const written = journal(snapshot)
    await writeJournal(journalPath, written)
    const watchdog = startScript(plan, { FAKE_OUTPUT: '** Error: The parameters were not valid.' })
    watchdog.child.stdin!.end()
    expect(await watchdog.exited).toBe(1)
    expect((await calls()).map((c) => c[0])).toEqual(['networksetup', 'gsettings'])
    expect(watchdog.stderr()).toMatch(
      /restoring the system proxy failed \(networksetup failed \(exit 1\)\); the next start/
    )
    expect(await fs.readdir(dir)).toContain('sysproxy-journal.json')
    expect((await fs.readdir(dir)).filter((n) => n.includes('claimed'))).toEqual([])
    expect(JSON.parse(await fs.readFile(journalPath, 'utf8'))).toEqual(written)
  })

  it('a failing command: the rest still run, then the journal is handed back', async () => {
    await writeJournal(journalPath, journal(hostileGnome()))
    const plan = gnomeRestorePlan(hostileGnome())
    const watchdog = startScript(plan, { FAKE_EXIT: '4' })
    watchdog.child.stdin!.end()
    expect(await watchdog.exited).toBe(1)
    expect(await calls()).toHaveLength(plan.steps.length)
    expect(watchdog.stderr()).toMatch(/\(gsettings failed \(exit 4\)\)/)
    expect((await fs.readdir(dir)).filter((n) => n.includes('journal'))).toEqual(['sysproxy-journal.json'])
  })

  it('a missing program stops at once; an optional step may fail; an empty file is removed, a full one kept', async () => {
    const empty = path.join(dir, "kiosl'averc $(x)")
    const full = path.join(dir, 'full rc')
    await fs.writeFile(empty, '')
    await fs.writeFile(full, '[Cache]\n')
    const ok = startScript({
      steps: [
        { removeIfEmpty: empty },
        { removeIfEmpty: full },
        { command: ['junction-no-such-program', 'x'], optional: true },
        { command: ['gsettings', 'ok'] }
      ]
    })
    await writeJournal(journalPath, journal(hostileGnome()))
    ok.child.stdin!.end()
    expect(await ok.exited).toBe(0)
    expect(await calls()).toEqual([['gsettings', 'ok']])
    const left = await fs.readdir(dir)
    expect(left).not.toContain(path.basename(empty))
    expect(left).toContain('full rc')

    await writeJournal(journalPath, journal(hostileGnome()))
    const missing = startScript({
      steps: [{ command: ['junction-no-such-program', 'x'] }, { command: ['gsettings', 'never'] }]
    })
    missing.child.stdin!.end()
    expect(await missing.exited).toBe(1)
    expect(await calls()).toEqual([['gsettings', 'ok']])
    expect(missing.stderr()).toMatch(/failed \(junction-no-such-program was not found\)/)
    expect((await fs.readdir(dir)).filter((n) => n.includes('journal'))).toEqual(['sysproxy-journal.json'])
  })

  it('disarm (with or without a newline) exits and touches nothing; no journal: nothing to do', async () => {
    for (const words of [`${DISARM}\n`, `hello\n${DISARM}`]) {
      await writeJournal(journalPath, journal(hostileGnome()))
      const watchdog = startScript(gnomeRestorePlan(hostileGnome()))
      watchdog.child.stdin!.end(words)
      expect(await watchdog.exited).toBe(0)
      expect(watchdog.stderr()).toBe('')
    }
    await fs.rm(journalPath)
    const idle = startScript(gnomeRestorePlan(hostileGnome()))
    idle.child.stdin!.end()
    expect(await idle.exited).toBe(0)
    expect(await calls()).toEqual([])
    expect(idle.stderr()).toBe('')
  })

  it("Junction's stderr gone (its reader closed): still restores, and is not killed by SIGPIPE", async () => {
    await writeJournal(journalPath, journal(hostileGnome()))
    const watchdog = startScript({ steps: [{ command: ['gsettings', 'done'] }] })
    watchdog.child.stderr!.destroy()
    watchdog.child.stdin!.end()
    const signal = await new Promise((resolve) =>
      watchdog.child.once('exit', (_code, signal) => resolve(signal))
    )
    expect([watchdog.child.exitCode, signal]).toEqual([0, null])
    expect(await calls()).toEqual([['gsettings', 'done']])
    expect((await fs.readdir(dir)).filter((n) => n.includes('journal'))).toEqual([])
  })

  it("ignores the terminal's signals while it waits, and still restores afterwards", async () => {
    await writeJournal(journalPath, journal(hostileGnome()))
    const watchdog = startScript({ steps: [{ command: ['gsettings', 'done'] }] })
    // The kernel's view of the trap: SIGHUP, SIGINT, SIGPIPE and SIGTERM (bits 1, 2, 13, 15) ignored.
    const ignored = 0x1n | 0x2n | 0x1000n | 0x4000n
    await waitFor(async () => {
      const mask = /SigIgn:\s+([0-9a-f]+)/.exec(
        await fs.readFile(`/proc/${watchdog.child.pid}/status`, 'utf8')
      )
      return (BigInt(`0x${mask![1]}`) & ignored) === ignored
    }, 3000)
    for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.kill(watchdog.child.pid!, signal)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(watchdog.child.exitCode).toBeNull()
    expect(watchdog.child.signalCode).toBeNull()
    watchdog.child.stdin!.end()
    expect(await watchdog.exited).toBe(0)
    expect(await calls()).toEqual([['gsettings', 'done']])
  })

  it('killed half-way: a start waits while it lives, then takes over its claim and restores', async () => {
    await writeJournal(journalPath, journal({ platform: 'gnome', data: 'user settings' }))
    const watchdog = startScript({ steps: [{ command: ['gsettings', 'slow'] }] }, { FAKE_SLEEP: '30' })
    watchdog.child.stdin!.end()
    const claim = `${journalPath}.claimed-${watchdog.child.pid}`
    await waitFor(async () => (await calls()).length === 1, 5000)
    expect(await fs.readdir(dir)).toContain(path.basename(claim))
    const restored: unknown[] = []
    const platform: SystemProxyPlatform = {
      id: 'gnome',
      snapshot: async () => ({ platform: 'gnome', data: 'now' }),
      view: () => NONE,
      apply: async () => undefined,
      restore: async (snapshot) => void restored.push(snapshot.data)
    }
    let settled = false
    const recovered = new SystemProxy(platform, { journalPath }).recover().then((r) => ((settled = true), r))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(settled).toBe(false)
    process.kill(watchdog.child.pid!, 'SIGKILL')
    expect(await recovered).toMatchObject({ ok: true, value: expect.stringMatching(/restored/) })
    expect(restored).toEqual(['user settings'])
    expect((await fs.readdir(dir)).filter((n) => n.includes('journal'))).toEqual([])
  })
})

describe('watchdogs() with a plan', () => {
  it('runs sh with the plan, re-arms only when the plan changes, and disarms cleanly', async () => {
    const lines: string[] = []
    const watch = watchdogs(headlessWatchdog(), (line) => lines.push(line))
    const pids = () => [...lines.join('\n').matchAll(/watchdog started \(pid (\d+), (\w+)\)/g)]
    const planA: RestorePlan = { steps: [{ command: ['gsettings', 'a'] }] }
    watch.arm(journalPath, planA)
    watch.arm(journalPath, structuredClone(planA))
    expect(pids().map((m) => m[2])).toEqual(['sh'])
    const first = Number(pids()[0]![1])
    groups.push(first)
    expect((await fs.readFile(`/proc/${first}/comm`, 'utf8')).trim()).toBe('sh')
    watch.arm(journalPath, { steps: [{ command: ['gsettings', 'b'] }] })
    expect(pids()).toHaveLength(2)
    const second = Number(pids()[1]![1])
    groups.push(second)
    await waitFor(async () => !alive(first), 5000)
    expect(alive(second)).toBe(true)
    watch.disarm()
    await waitFor(async () => !alive(second), 5000)
    expect(lines.join('\n')).not.toMatch(/stopped unexpectedly/)
    expect(await calls()).toEqual([])
  })

  it('SystemProxy re-arms with a plan that undoes everything it applied since the journal', async () => {
    const platform: SystemProxyPlatform & { current: string } = {
      id: 'gnome',
      current: 'user',
      snapshot: async () => ({ platform: 'gnome', data: platform.current }),
      view: (s) => ({
        ...NONE,
        ...(s.data === 'manual' ? { ...MANUAL, bypass: MANUAL.bypass } : {}),
        ...(s.data === 'pac' ? { mode: 'pac' as const, pacUrl: PAC.url } : {})
      }),
      apply: async (d) => void (platform.current = d.mode),
      restore: async (s) => void (platform.current = s.data as string),
      restorePlan: (_s, applied) => ({
        steps: applied.map((d) => ({ command: ['gsettings', 'undo', d.mode] }))
      })
    }
    const armed: (RestorePlan | null)[] = []
    const proxy = new SystemProxy(platform, {
      journalPath,
      guardIntervalMs: 60_000,
      watch: { arm: (_path, plan) => armed.push(plan), disarm: () => armed.push(null) }
    })
    expect((await proxy.enable(MANUAL)).ok).toBe(true)
    expect((await proxy.enable(PAC)).ok).toBe(true)
    expect((await proxy.enable(MANUAL)).ok).toBe(true)
    const undo = (...modes: string[]) => ({
      steps: modes.map((m) => ({ command: ['gsettings', 'undo', m] }))
    })
    // Manual again adds nothing to undo: the watchdog keeps its plan.
    expect(armed).toEqual([undo('manual'), undo('manual', 'pac')])
    // The journal records the same history, for a start that restores after a power cut.
    expect(JSON.parse(await fs.readFile(journalPath, 'utf8'))).toMatchObject({ applied: [MANUAL, PAC] })
    expect((await proxy.disable()).ok).toBe(true)
    expect((await proxy.enable(PAC)).ok).toBe(true)
    // A new journal starts a new history.
    expect(armed.slice(2)).toEqual([null, undo('pac')])
    await proxy.disable()
  })

  it('a start after a crash restores with the history the journal recorded, and Junction itself too', async () => {
    const restoredWith: unknown[] = []
    const platform: SystemProxyPlatform = {
      id: 'gnome',
      snapshot: async () => ({ platform: 'gnome', data: 'user' }),
      view: () => NONE,
      apply: async () => undefined,
      restore: async (_s, applied) => void restoredWith.push(applied)
    }
    // The view never matches: every enable fails its read-back and restores at once.
    const proxy = new SystemProxy(platform, { journalPath })
    expect((await proxy.enable(PAC)).ok).toBe(false)
    expect(restoredWith).toEqual([[PAC]])
    await writeJournal(journalPath, {
      ...journal({ platform: 'gnome', data: 'user' }),
      applied: [MANUAL, PAC]
    })
    expect(await new SystemProxy(platform, { journalPath }).recover()).toMatchObject({ ok: true })
    expect(restoredWith.at(-1)).toEqual([MANUAL, PAC])
  })
})

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const start = Date.now()
  while (!(await check().catch(() => false))) {
    if (Date.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
