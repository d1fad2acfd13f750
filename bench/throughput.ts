/**
 * Proxy throughput: plain HTTP requests/s (autocannon) and CONNECT tunnels/s (our own client) through
 * bare proxy-chain and through ProxyEngine with 1,000 rules, on the same machine in the same run.
 *
 * The proxy and the origin each run in a child process so the load generator never competes with them
 * for an event loop. Each workload starts one fresh bare and one fresh engine process and warms both
 * up, uncounted: on a small machine a new proxy process needs several seconds of load before V8 has
 * optimised its hot paths (its CPU per request falls two- to threefold over the first ~6 s), and what
 * matters for a long-running proxy is its steady state. Measured rounds then alternate between the two
 * live processes, bare, engine, bare, engine …, so slow drift of the machine hits both variants
 * alike; the median round counts.
 *
 * On a 2-core machine shared with other work, requests/s swings with whatever else runs; so each round
 * also records the proxy process's CPU time per request (far steadier) and how much CPU processes
 * outside the benchmark took, which marks a round's figure as suspect.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { BODY_BYTES, BULK_BYTES, BULK_PATH, ENGINE_RULES, SERVED_PATH } from './child-common.ts'
import { cpuDelta, cpuSnapshot } from './cpu-usage.ts'

/** `bare` proxy-chain, the `engine` with 1,000 rules, and the engine with statistics and logging on. */
export type Variant = 'bare' | 'engine' | 'engine-stats' | 'previous-stats' | 'engine-edits'

/** Two variants measured against each other: the ratio is candidate / baseline. */
export interface Comparison {
  baseline: Variant
  candidate: Variant
}
/** http: requests/s; connect: whole short tunnels/s; connect-bulk: MiB/s through long-lived tunnels. */
export type Workload = 'http' | 'connect' | 'connect-bulk'

export interface ThroughputOptions {
  /**
   * Fresh process pairs per workload: a process's JIT and heap settle a little differently each time,
   * enough to move a ratio by several percent, so one pair is not enough.
   */
  pairs: number
  /** Measured rounds per variant and process pair. */
  rounds: number
  /** Length of each measured round. */
  seconds: number
  /** Uncounted load on each fresh proxy process before the measured rounds. */
  warmupSeconds: number
  /** Concurrent client connections (HTTP) or tunnel workers (CONNECT). */
  connections: number
  /** Which workloads to run; both by default. */
  workloads?: Workload[]
  log?: (line: string) => void
}

export const DEFAULT_THROUGHPUT: ThroughputOptions = {
  pairs: 4,
  rounds: 6,
  seconds: 1,
  warmupSeconds: 5,
  connections: 20
}

export interface LoadFigures {
  /** Requests (HTTP) or whole tunnels (CONNECT) completed with the expected 200 and body. */
  completed: number
  seconds: number
  perSecond: number
  /** Failures by kind (error code, timeout …); any at all makes the round's figure suspect. */
  errors: Record<string, number>
}

export interface RoundFigures extends LoadFigures {
  round: number
  variant: Variant
  /** Requests the origin answered during the measured round (≥ completed, or the round fails). */
  originServed: number
  /** CPU time (user + system) the proxy process spent per completed request/tunnel; null off Linux. */
  proxyCpuUsPerOp: number | null
  /** Share of the machine's CPU taken by processes outside the benchmark or by the hypervisor (0–1). */
  foreignCpuShare: number | null
  /** CPU seconds each benchmark process used during the measured round; null off Linux. */
  cpuSeconds: { loadGenerator: number; proxy: number; origin: number } | null
  /** Anything the proxy process wrote to stderr during the round. */
  proxyStderr?: string
}

export interface VariantFigures {
  /** The uncounted warm-ups (one per process), kept to show how far a fresh process is from its steady state. */
  warmups: LoadFigures[]
  rounds: RoundFigures[]
  /** Median per-second figure. */
  median: number
  medianCpuUsPerOp: number | null
}

export interface WorkloadFigures {
  workload: Workload
  unit: 'requests/s' | 'tunnels/s' | 'MiB/s'
  comparison: Comparison
  baseline: VariantFigures
  candidate: VariantFigures
  /**
   * Candidate / baseline throughput of each round: the two were measured back to back, in turn first
   * (ABBA), so the machine's drift over the run cancels within a round.
   */
  roundRatios: number[]
  /** Median of roundRatios: the figure the targets are about. */
  ratio: number
  /** Median candidate / median baseline throughput, for comparison. */
  ratioOfMedians: number
  /** Median candidate / median baseline proxy CPU per operation (above 1: the candidate costs more). */
  cpuRatio: number | null
  /** Why the figures may not be trusted (errors, proxy stderr); empty when clean. */
  suspect: string[]
}

export interface ThroughputFigures {
  comparison: Comparison
  engineRules: number
  connections: number
  pairs: number
  rounds: number
  seconds: number
  warmupSeconds: number
  /** Null when the workload was not run (see ThroughputOptions.workloads). */
  http: WorkloadFigures | null
  connect: WorkloadFigures | null
  connectBulk: WorkloadFigures | null
}

// ---------------------------------------------------------------------------------------------------
// Child processes

export interface Child {
  pid: number
  port: number
  /** Every server's port, for a child that runs several (the first is `port`). */
  ports: number[]
  /** Recent stderr, for diagnostics. */
  stderr(): string
  /** SIGTERM, SIGKILL after graceMs (3 s); throws if the child had already died on its own. */
  stop(graceMs?: number): Promise<void>
}

const STARTUP_TIMEOUT_MS = 15_000
const STOP_GRACE_MS = 3000
const STDERR_LIMIT = 4096

const live = new Set<ChildProcess>()

/** Kills every child still running, synchronously (usable from an 'exit' handler). */
export function killAllChildren(): void {
  for (const proc of live) proc.kill('SIGKILL')
  live.clear()
}

// An error or Ctrl-C in the benchmark must never leave a proxy or origin behind. (The children also
// exit by themselves when their stdin pipe from us closes; this covers the ordinary paths quicker.)
process.once('exit', killAllChildren)

/** Runs a benchmark script's `main`: an error is printed and sets the exit code; no child outlives it. */
export function runScript(main: () => Promise<void>): void {
  main()
    .catch((error: unknown) => {
      console.error(error)
      process.exitCode = 1
    })
    .finally(killAllChildren)
}

// Node 22.18+ runs .ts files as they are; 22.12–22.17 (allowed by package.json) needs the flag, as
// scripts/run-ts.mjs knows. Children are started the same way so they load wherever the parent did.
const TS_FLAGS = process.features.typescript ? [] : ['--experimental-strip-types', '--no-warnings']

/** Starts `node bench/<file> ...args` and resolves once it has printed its port. */
export function startChild(
  file: string,
  args: string[],
  name: string,
  env: NodeJS.ProcessEnv = process.env
): Promise<Child> {
  const script = fileURLToPath(new URL(file, import.meta.url))
  const proc = spawn(process.execPath, [...TS_FLAGS, script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env
  })
  live.add(proc)
  let stderr = ''
  let stopping = false
  proc.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_LIMIT)
  })
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc)
      resolve(signal ?? `exit code ${code}`)
    })
  })

  const stop = async (graceMs = STOP_GRACE_MS): Promise<void> => {
    if (stopping) return
    stopping = true
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const how = await exited
      throw new Error(`${name} died during the benchmark (${how}):\n${stderr}`)
    }
    proc.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const late = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))
    ])
    clearTimeout(timer)
    if (late) {
      proc.kill('SIGKILL')
      await exited
    }
  }

  return new Promise((resolve, reject) => {
    let stdout = ''
    let settled = false
    const fail = (error: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      proc.kill('SIGKILL')
      reject(error)
    }
    const timer = setTimeout(
      () => fail(new Error(`${name} did not report its port within ${STARTUP_TIMEOUT_MS} ms:\n${stderr}`)),
      STARTUP_TIMEOUT_MS
    )
    proc.once('error', fail)
    void exited.then((how) => fail(new Error(`${name} exited (${how}) before listening:\n${stderr}`)))
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
      const newline = stdout.indexOf('\n')
      if (newline < 0) return
      proc.stdout.removeAllListeners('data')
      proc.stdout.resume()
      let announced: { port?: unknown; ports?: unknown } = {}
      try {
        announced = JSON.parse(stdout.slice(0, newline)) as typeof announced
      } catch {
        // reported below
      }
      const { port } = announced
      const ports = Array.isArray(announced.ports) ? (announced.ports as unknown[]) : [port]
      if (typeof port !== 'number' || !ports.every((p) => typeof p === 'number'))
        return fail(new Error(`${name} printed ${stdout.slice(0, newline)}, not {"port":N}`))
      settled = true
      clearTimeout(timer)
      resolve({ pid: proc.pid!, port, ports: ports as number[], stderr: () => stderr, stop })
    })
  })
}

/** How many requests the origin has answered so far. */
export function originServed(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: SERVED_PATH, agent: false, timeout: 5000 },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve((JSON.parse(text) as { served: number }).served))
      }
    )
    req.on('timeout', () => req.destroy(new Error('origin did not answer its count within 5 s')))
    req.on('error', reject)
  })
}

// ---------------------------------------------------------------------------------------------------
// HTTP workload

/**
 * autocannon writes `path` verbatim as the request target, so the absolute origin URL makes every
 * request an absolute-form proxy request (`GET http://127.0.0.1:O/ HTTP/1.1`). A request the proxy did
 * not take as a proxy request would get a 4xx from proxy-chain, hence the non-2xx check.
 */
export async function httpLoad(
  proxyPort: number,
  originPort: number,
  seconds: number,
  connections: number
): Promise<LoadFigures> {
  const result = await autocannon({
    url: `http://127.0.0.1:${proxyPort}`,
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
    requests: [
      {
        method: 'GET',
        path: `http://127.0.0.1:${originPort}/`,
        headers: { host: `127.0.0.1:${originPort}` }
      }
    ]
  })
  if (result.non2xx > 0)
    throw new Error(
      `the proxy answered ${result.non2xx} requests with a non-2xx status ` +
        `(${JSON.stringify(result.statusCodeStats)}): the HTTP workload is not being proxied`
    )
  if (result['2xx'] === 0) throw new Error(`no request through the proxy on port ${proxyPort} succeeded`)
  const errors: Record<string, number> = {}
  // autocannon's `errors` includes its timeouts; keep them apart so the report says which happened.
  if (result.errors - result.timeouts > 0) errors.error = result.errors - result.timeouts
  if (result.timeouts > 0) errors.timeout = result.timeouts
  if (result.resets > 0) errors.reset = result.resets
  if (result.mismatches > 0) errors.mismatch = result.mismatches
  return {
    completed: result['2xx'],
    seconds: result.duration,
    perSecond: result['2xx'] / result.duration,
    errors
  }
}

// ---------------------------------------------------------------------------------------------------
// CONNECT workload

const TUNNEL_TIMEOUT_MS = 5000
const MAX_HEAD_BYTES = 16 * 1024
/** A broken setup fails every tunnel at once; stop hammering it well before the round ends. */
const MAX_CONNECT_ERRORS = 500

export class TunnelError extends Error {
  readonly kind: string
  constructor(kind: string, message: string) {
    super(message)
    this.kind = kind
  }
}

function statusLine(buffer: Buffer): string {
  const end = buffer.indexOf('\r\n')
  return buffer.subarray(0, end < 0 ? Math.min(buffer.length, 80) : end).toString('latin1')
}

/**
 * One complete tunnel: CONNECT, wait for 200, one GET with `Connection: close` through it, read the
 * whole response until the far end closes, check status and body length.
 */
export function oneTunnel(proxyPort: number, originPort: number): Promise<void> {
  const connectRequest = `CONNECT 127.0.0.1:${originPort} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`
  const getRequest = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1')
    const chunks: Buffer[] = []
    let tunnelOpen = false
    let settled = false
    const finish = (error?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve()
    }
    const timer = setTimeout(
      () => finish(new TunnelError('timeout', `no complete tunnel within ${TUNNEL_TIMEOUT_MS} ms`)),
      TUNNEL_TIMEOUT_MS
    )
    socket.once('connect', () => socket.write(connectRequest))
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      if (tunnelOpen) return
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks)
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES)
          finish(new TunnelError('bad-connect-reply', 'CONNECT reply too long'))
        return
      }
      const line = statusLine(head)
      if (!/^HTTP\/1\.[01] 200 /.test(line))
        return finish(new TunnelError(`connect-${line.slice(9, 12)}`, `CONNECT answered "${line}"`))
      tunnelOpen = true
      chunks.length = 0
      // Nothing should follow the CONNECT reply before we speak, but keep it if it does.
      if (head.length > end + 4) chunks.push(head.subarray(end + 4))
      socket.write(getRequest)
    })
    socket.once('end', () => {
      if (!tunnelOpen) return finish(new TunnelError('closed-before-200', 'proxy closed before answering'))
      const response = Buffer.concat(chunks)
      const line = statusLine(response)
      const bodyStart = response.indexOf('\r\n\r\n')
      if (!/^HTTP\/1\.[01] 200 /.test(line))
        return finish(new TunnelError('bad-response', `tunnelled GET answered "${line}"`))
      if (bodyStart < 0 || response.length - bodyStart - 4 !== BODY_BYTES)
        return finish(new TunnelError('short-response', `tunnelled response of ${response.length} bytes`))
      finish()
    })
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish(new TunnelError(error.code ?? 'socket-error', error.message))
    )
  })
}

export async function connectLoad(
  proxyPort: number,
  originPort: number,
  seconds: number,
  workers: number
): Promise<LoadFigures> {
  const started = performance.now()
  const deadline = started + seconds * 1000
  const errors: Record<string, number> = {}
  let errorCount = 0
  let completed = 0
  // Each worker starts a new tunnel only before the deadline and each tunnel times out, so the round
  // ends at most TUNNEL_TIMEOUT_MS after the deadline.
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && errorCount < MAX_CONNECT_ERRORS) {
      try {
        await oneTunnel(proxyPort, originPort)
        completed++
      } catch (error) {
        const kind = error instanceof TunnelError ? error.kind : 'unexpected'
        errors[kind] = (errors[kind] ?? 0) + 1
        errorCount++
      }
    }
  }
  await Promise.all(Array.from({ length: workers }, worker))
  const elapsed = (performance.now() - started) / 1000
  if (completed === 0)
    throw new Error(
      `no CONNECT tunnel through the proxy on port ${proxyPort} completed: ${JSON.stringify(errors)}`
    )
  return { completed, seconds: elapsed, perSecond: completed / elapsed, errors }
}

/**
 * Data throughput through tunnels: each worker opens one tunnel and downloads 1 MiB responses over it
 * (keep-alive) until the deadline. `completed` counts whole MiB received.
 */
export async function connectBulkLoad(
  proxyPort: number,
  originPort: number,
  seconds: number,
  workers: number
): Promise<LoadFigures> {
  const started = performance.now()
  const deadline = started + seconds * 1000
  const errors: Record<string, number> = {}
  let completed = 0
  const worker = () =>
    new Promise<void>((resolve) => {
      const socket = net.connect(proxyPort, '127.0.0.1')
      const request = `GET ${BULK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`
      let open = false
      let buffered: Buffer = Buffer.alloc(0)
      let remaining = -1
      const fail = (kind: string) => {
        errors[kind] = (errors[kind] ?? 0) + 1
        socket.destroy()
        resolve()
      }
      const timer = setTimeout(() => fail('timeout'), seconds * 1000 + TUNNEL_TIMEOUT_MS)
      socket.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'socket-error'))
      socket.once('connect', () =>
        socket.write(`CONNECT 127.0.0.1:${originPort} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`)
      )
      socket.on('data', (chunk: Buffer) => {
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk
        for (;;) {
          if (!open || remaining < 0) {
            const end = buffered.indexOf('\r\n\r\n')
            if (end < 0) return
            const head = buffered.subarray(0, end).toString('latin1')
            buffered = buffered.subarray(end + 4)
            if (!open) {
              if (!/^HTTP\/1\.[01] 200 /.test(head)) return fail('connect-refused')
              open = true
              socket.write(request)
              continue
            }
            remaining = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? NaN)
            if (remaining !== BULK_BYTES) return fail('bad-response')
          }
          if (buffered.length < remaining) {
            remaining -= buffered.length
            buffered = Buffer.alloc(0)
            return
          }
          buffered = buffered.subarray(remaining)
          remaining = -1
          completed++
          if (performance.now() >= deadline) {
            clearTimeout(timer)
            socket.destroy()
            return resolve()
          }
          socket.write(request)
        }
      })
    })
  await Promise.all(Array.from({ length: workers }, worker))
  const elapsed = (performance.now() - started) / 1000
  if (completed === 0)
    throw new Error(`no data came through tunnels on port ${proxyPort}: ${JSON.stringify(errors)}`)
  return { completed, seconds: elapsed, perSecond: completed / elapsed, errors }
}

// ---------------------------------------------------------------------------------------------------
// Rounds

export const LOADS: Record<Workload, typeof httpLoad> = {
  http: httpLoad,
  connect: connectLoad,
  'connect-bulk': connectBulkLoad
}

/** Above this share of the machine taken by other processes, a round's requests/s is suspect. */
const FOREIGN_CPU_LIMIT = 0.1

async function measureRound(
  workload: Workload,
  variant: Variant,
  round: number,
  proxy: Child,
  origin: Child,
  options: ThroughputOptions
): Promise<RoundFigures> {
  const load = LOADS[workload]
  const stderrBefore = proxy.stderr()
  const before = await originServed(origin.port)
  const cpuBefore = cpuSnapshot(['self', proxy.pid, origin.pid])
  const measured = await load(proxy.port, origin.port, options.seconds, options.connections)
  const cpu = cpuDelta(cpuBefore, cpuSnapshot(['self', proxy.pid, origin.pid]))
  const served = (await originServed(origin.port)) - before
  if (served < measured.completed)
    throw new Error(
      `${workload}/${variant}: the client counted ${measured.completed} responses but the origin ` +
        `served only ${served}: responses did not come from the origin`
    )
  const proxySeconds = cpu?.seconds.get(proxy.pid)
  const seconds = (pid: number | 'self'): number => cpu?.seconds.get(pid) ?? NaN
  const figures: RoundFigures = {
    round,
    variant,
    ...measured,
    originServed: served,
    proxyCpuUsPerOp: proxySeconds === undefined ? null : (proxySeconds * 1e6) / measured.completed,
    foreignCpuShare: cpu ? cpu.foreignShare : null,
    cpuSeconds: cpu
      ? { loadGenerator: seconds('self'), proxy: seconds(proxy.pid), origin: seconds(origin.pid) }
      : null
  }
  const stderr = proxy.stderr()
  if (stderr !== stderrBefore) figures.proxyStderr = stderr
  return figures
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function describeErrors(errors: Record<string, number>): string {
  return Object.entries(errors)
    .map(([kind, count]) => `${kind}×${count}`)
    .join(', ')
}

function variantFigures(warmups: LoadFigures[], rounds: RoundFigures[]): VariantFigures {
  const cpu = rounds.map((r) => r.proxyCpuUsPerOp)
  return {
    warmups,
    rounds,
    median: median(rounds.map((r) => r.perSecond)),
    medianCpuUsPerOp: cpu.every((c) => c !== null) ? median(cpu) : null
  }
}

async function measureWorkload(
  workload: Workload,
  origin: Child,
  options: ThroughputOptions,
  comparison: Comparison
): Promise<WorkloadFigures> {
  const variants = [comparison.baseline, comparison.candidate] as const
  const rounds: [RoundFigures[], RoundFigures[]] = [[], []]
  const warmups: [LoadFigures[], LoadFigures[]] = [[], []]
  const suspect: string[] = []
  const unit = workload === 'http' ? 'requests/s' : workload === 'connect' ? 'tunnels/s' : 'MiB/s'
  const int = (n: number): string => Math.round(n).toLocaleString('en-US')
  let round = 0
  for (let pair = 1; pair <= options.pairs; pair++) {
    const proxies: Child[] = []
    try {
      for (const variant of variants)
        proxies.push(await startChild('./proxy-server.ts', [variant], `proxy child (${variant})`))
      if (options.warmupSeconds > 0)
        for (const [i, variant] of variants.entries()) {
          const proxy = proxies[i]!
          const warmup = await LOADS[workload](
            proxy.port,
            origin.port,
            options.warmupSeconds,
            options.connections
          )
          warmups[i]!.push(warmup)
          options.log?.(
            `  ${workload} pair ${pair} warm-up ${variant.padEnd(12)} ${int(warmup.perSecond)} ${unit} (not counted)`
          )
        }
      for (let r = 1; r <= options.rounds; r++) {
        round++
        // Alternate which variant goes first (ABBA…), so that neither always follows the other.
        for (const i of r % 2 ? [0, 1] : [1, 0]) {
          const variant = variants[i]!
          const figures = await measureRound(workload, variant, round, proxies[i]!, origin, options)
          rounds[i]!.push(figures)
          const errorText = describeErrors(figures.errors)
          const foreign = figures.foreignCpuShare
          if (errorText) suspect.push(`${variant} round ${round}: ${errorText}`)
          if (figures.proxyStderr)
            suspect.push(`${variant} round ${round}: proxy stderr: ${figures.proxyStderr}`)
          if (foreign !== null && foreign > FOREIGN_CPU_LIMIT)
            suspect.push(`${variant} round ${round}: ${pct(foreign)} of the machine's CPU went to other work`)
          options.log?.(
            `  ${workload} pair ${pair} round ${r}/${options.rounds} ${variant.padEnd(12)} ${int(figures.perSecond)} ${unit}` +
              (figures.proxyCpuUsPerOp === null
                ? ''
                : `, proxy CPU ${figures.proxyCpuUsPerOp.toFixed(1)} µs/op`) +
              (foreign === null ? '' : `, other work ${pct(foreign)} CPU`) +
              (errorText ? ` (errors: ${errorText})` : '')
          )
        }
      }
    } catch (error) {
      await stopAll(proxies)
      throw error
    }
    // A proxy that died between rounds is only noticed here, so its stop failure must surface.
    await stopAll(proxies, true)
  }
  const baseline = variantFigures(warmups[0], rounds[0])
  const candidate = variantFigures(warmups[1], rounds[1])
  const roundRatios = candidate.rounds.map((r, i) => r.perSecond / baseline.rounds[i]!.perSecond)
  const cpuRatio =
    baseline.medianCpuUsPerOp !== null && candidate.medianCpuUsPerOp !== null
      ? candidate.medianCpuUsPerOp / baseline.medianCpuUsPerOp
      : null
  return {
    workload,
    unit,
    comparison,
    baseline,
    candidate,
    roundRatios,
    ratio: median(roundRatios),
    ratioOfMedians: candidate.median / baseline.median,
    cpuRatio,
    suspect
  }
}

/** Stops every child, even if some fail; rethrows the first failure when asked to. */
async function stopAll(children: Child[], rethrow = false): Promise<void> {
  const stopped = await Promise.allSettled(children.map((child) => child.stop()))
  const failed = stopped.find((result) => result.status === 'rejected')
  if (failed && rethrow) throw failed.reason
}

function pct(share: number): string {
  return `${(share * 100).toFixed(0)}%`
}

export async function measureThroughput(
  options: ThroughputOptions = DEFAULT_THROUGHPUT,
  comparison: Comparison = { baseline: 'bare', candidate: 'engine' }
): Promise<ThroughputFigures> {
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  try {
    const run = (workload: Workload): boolean => options.workloads?.includes(workload) ?? true
    const http = run('http') ? await measureWorkload('http', origin, options, comparison) : null
    const connect = run('connect') ? await measureWorkload('connect', origin, options, comparison) : null
    const connectBulk = run('connect-bulk')
      ? await measureWorkload('connect-bulk', origin, options, comparison)
      : null
    return {
      comparison,
      engineRules: ENGINE_RULES,
      connections: options.connections,
      pairs: options.pairs,
      rounds: options.rounds,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      http,
      connect,
      connectBulk
    }
  } finally {
    await origin.stop()
  }
}
