/**
 * Two variants of the same code compared at the same moments: both servers run on two ports of one
 * child process, and the load switches between them every slice (100 ms) in ABBA order, over client
 * connections that stay open throughout.
 *
 * Why: on a small shared virtual machine the speed of everything swings by ±20 % from one second to
 * the next (the hypervisor's other guests), so comparing whole rounds of a second or more, one variant
 * after the other, resolves a few percent only with hours of rounds. Slices of 100 ms put both
 * variants under nearly the same conditions many times a second, and the swings cancel in the sums.
 *
 * Each slice counts the operations *started* in it that completed correctly (ones still under way when
 * the slice ends finish during the next and still count for their own slice). The ratio is
 * candidate / baseline operations per second over all slices; its standard error comes from the spread
 * of the per-block ratios (one block = ABBA, 400 ms). Proxy CPU per operation is read from /proc at
 * every slice boundary, as both servers share the process.
 */
import net from 'node:net'
import { BODY_BYTES, BULK_BYTES, BULK_PATH } from './child-common.ts'
import { processTicks } from './cpu-usage.ts'
import {
  type Child,
  type Comparison,
  oneTunnel,
  originServed,
  startChild,
  TunnelError,
  type Variant,
  type Workload
} from './throughput.ts'

export const SLICE_MS = 100
/** Slices per block: A B B A, so a steady drift cancels within a block. */
const BLOCK = [0, 1, 1, 0] as const
/** A broken setup fails every operation; stop well before the run would end. */
const MAX_ERRORS = 500
const TICKS_PER_SECOND = 100

export interface InterleavedOptions {
  /** Fresh child processes per workload; the variants take turns at being started first. */
  processes: number
  /** Measured seconds of interleaved load per process. */
  seconds: number
  /** Uncounted interleaved load before measuring, for the JIT to settle. */
  warmupSeconds: number
  /** Client connections (HTTP, data) or tunnel workers (CONNECT) per variant. */
  connections: number
  workloads: Workload[]
  log?: (line: string) => void
  /** Called with each new proxy child's process id (to pin it to its own CPU). */
  onProxyStarted?: (pid: number) => void
}

export interface InterleavedSide {
  variant: Variant
  operations: number
  seconds: number
  perSecond: number
  /** Proxy CPU per operation (µs), from the slices this variant ran in; null off Linux. */
  cpuUsPerOp: number | null
  errors: Record<string, number>
}

export interface InterleavedWorkload {
  workload: Workload
  unit: 'requests/s' | 'tunnels/s' | 'MiB/s'
  comparison: Comparison
  baseline: InterleavedSide
  candidate: InterleavedSide
  /** candidate / baseline operations per second over every slice: the figure targets are about. */
  ratio: number
  /** Standard error of the ratio, from the spread of the block ratios. */
  standardError: number
  /** The ratio within each process, to show how far one process's luck moves it. */
  processRatios: number[]
  blocks: number
  /** Why the figures may not be trusted (errors, proxy stderr); empty when clean. */
  suspect: string[]
}

/** Keeps `connections` operations going against one server while it is active. */
interface Driver {
  /** Starts operations, tagged with `slice`, until stopped. */
  activate(slice: number): void
  stop(): void
  /** Resolves when no operation is under way. */
  idle(): Promise<void>
  /** Completed operations by the slice they started in. */
  completed: number[]
  errors: Record<string, number>
  close(): void
}

/** Bookkeeping shared by the drivers: the active slice, operations under way, errors. */
class DriverState {
  slice = -1
  active = false
  running = 0
  completed: number[] = []
  errors: Record<string, number> = {}
  errorCount = 0
  private waiters: (() => void)[] = []

  begin(): number {
    this.running++
    return this.slice
  }

  end(slice: number, error?: string): void {
    this.running--
    if (error) {
      this.errors[error] = (this.errors[error] ?? 0) + 1
      this.errorCount++
    } else this.completed[slice] = (this.completed[slice] ?? 0) + 1
    if (this.running === 0) for (const wake of this.waiters.splice(0)) wake()
  }

  idle(): Promise<void> {
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve))
  }

  get canStart(): boolean {
    return this.active && this.errorCount < MAX_ERRORS
  }
}

/**
 * One keep-alive connection repeating a request and reading whole responses of a known length, for
 * plain HTTP through the proxy and for data through a tunnel. `open` is written first, when given
 * (the CONNECT), and must be answered 200 before requests start.
 */
class RepeatingConnection {
  private readonly socket: net.Socket
  private buffered: Buffer = Buffer.alloc(0)
  /** Body bytes still expected, or -1 while reading a head. */
  private remaining = -1
  private opened: boolean
  private started = -1
  private readonly state: DriverState
  private readonly request: string
  private readonly bodyBytes: number
  private closing = false
  onReady: (() => void) | null = null

  constructor(port: number, state: DriverState, request: string, bodyBytes: number, open?: string) {
    this.state = state
    this.request = request
    this.bodyBytes = bodyBytes
    this.opened = !open
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.setNoDelay(true)
    this.socket.once('connect', () => (open ? this.socket.write(open) : this.onReady?.()))
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk))
    this.socket.on('error', (error: NodeJS.ErrnoException) => this.fail(error.code ?? 'socket-error'))
    this.socket.on('close', () => this.fail('closed'))
  }

  get ready(): boolean {
    return this.opened && this.started < 0 && !this.socket.destroyed
  }

  send(): void {
    this.started = this.state.begin()
    this.socket.write(this.request)
  }

  close(): void {
    this.closing = true
    this.socket.destroy()
  }

  private fail(kind: string): void {
    if (this.closing) return
    this.closing = true
    this.state.end(this.started >= 0 ? this.started : this.state.begin(), kind)
    this.started = -1
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk
    for (;;) {
      if (this.remaining < 0) {
        const end = this.buffered.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = this.buffered.subarray(0, end).toString('latin1')
        this.buffered = this.buffered.subarray(end + 4)
        if (!/^HTTP\/1\.[01] 200 /.test(head)) return this.fail(`status-${head.slice(9, 12)}`)
        if (!this.opened) {
          this.opened = true
          this.onReady?.()
          continue
        }
        this.remaining = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN)
        if (this.remaining !== this.bodyBytes) return this.fail('bad-length')
      }
      if (this.buffered.length < this.remaining) {
        this.remaining -= this.buffered.length
        this.buffered = Buffer.alloc(0)
        return
      }
      this.buffered = this.buffered.subarray(this.remaining)
      this.remaining = -1
      const slice = this.started
      this.started = -1
      this.state.end(slice)
      if (this.state.canStart) this.send()
    }
  }
}

/** `connections` keep-alive connections, each repeating one request while the driver is active. */
function repeatingDriver(connections: number, connect: (state: DriverState) => RepeatingConnection): Driver {
  const state = new DriverState()
  const all = Array.from({ length: connections }, () => connect(state))
  const kick = (): void => {
    for (const c of all) if (state.canStart && c.ready) c.send()
  }
  for (const c of all) c.onReady = kick
  return driverOver(state, kick, () => all.forEach((c) => c.close()))
}

/** `workers` loops, each opening one whole tunnel after another while the driver is active. */
function tunnelDriver(port: number, originPort: number, workers: number): Driver {
  const state = new DriverState()
  let waking: (() => void)[] = []
  let closed = false
  const worker = async (): Promise<void> => {
    for (;;) {
      if (!state.canStart) {
        await new Promise<void>((resolve) => waking.push(resolve))
        if (closed) return
        continue
      }
      const slice = state.begin()
      try {
        await oneTunnel(port, originPort)
        state.end(slice)
      } catch (error) {
        state.end(slice, error instanceof TunnelError ? error.kind : 'unexpected')
      }
    }
  }
  for (let i = 0; i < workers; i++) void worker()
  const wake = (): void => {
    const sleepers = waking
    waking = []
    for (const resolve of sleepers) resolve()
  }
  return driverOver(state, wake, () => {
    closed = true
    wake()
  })
}

/** The driver over `state`: `start` sets operations going, `close` ends them for good. */
function driverOver(state: DriverState, start: () => void, close: () => void): Driver {
  return {
    activate(slice) {
      state.slice = slice
      state.active = true
      start()
    },
    stop: () => (state.active = false),
    idle: () => state.idle(),
    completed: state.completed,
    errors: state.errors,
    close
  }
}

function driverFor(workload: Workload, port: number, originPort: number, connections: number): Driver {
  const origin = `127.0.0.1:${originPort}`
  switch (workload) {
    case 'http':
      return repeatingDriver(
        connections,
        (state) =>
          new RepeatingConnection(
            port,
            state,
            `GET http://${origin}/ HTTP/1.1\r\nHost: ${origin}\r\n\r\n`,
            BODY_BYTES
          )
      )
    case 'connect-bulk':
      return repeatingDriver(
        connections,
        (state) =>
          new RepeatingConnection(
            port,
            state,
            `GET ${BULK_PATH} HTTP/1.1\r\nHost: ${origin}\r\n\r\n`,
            BULK_BYTES,
            `CONNECT ${origin} HTTP/1.1\r\nHost: ${origin}\r\n\r\n`
          )
      )
    case 'connect':
      return tunnelDriver(port, originPort, connections)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Slice {
  side: 0 | 1
  seconds: number
  cpuTicks: number | null
}

/**
 * Runs ABBA blocks for `seconds`, numbering slices from `first`. A slice's CPU time includes its last
 * operations finishing; the next slice starts only then, so the two variants never overlap.
 */
async function runSlices(
  drivers: [Driver, Driver],
  pid: number,
  seconds: number,
  first: number
): Promise<Slice[]> {
  const slices: Slice[] = []
  const end = performance.now() + seconds * 1000
  while (performance.now() < end)
    for (const side of BLOCK) {
      const driver = drivers[side]
      const ticks = processTicks(pid)
      const started = performance.now()
      driver.activate(first + slices.length)
      await sleep(SLICE_MS)
      driver.stop()
      const elapsed = (performance.now() - started) / 1000
      await driver.idle()
      const after = processTicks(pid)
      slices.push({
        side,
        seconds: elapsed,
        cpuTicks: ticks === null || after === null ? null : after - ticks
      })
    }
  return slices
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

/** Figures for one side from its slices (slice numbers index `completed`). */
function side(
  variant: Variant,
  slices: { slice: Slice; ops: number }[],
  errors: Record<string, number>
): InterleavedSide {
  const operations = sum(slices.map((s) => s.ops))
  const seconds = sum(slices.map((s) => s.slice.seconds))
  const ticks = slices.map((s) => s.slice.cpuTicks)
  return {
    variant,
    operations,
    seconds,
    perSecond: operations / seconds,
    cpuUsPerOp: ticks.every((t) => t !== null)
      ? ((sum(ticks as number[]) / TICKS_PER_SECOND) * 1e6) / operations
      : null,
    errors
  }
}

function mergeErrors(into: Record<string, number>, from: Record<string, number>): void {
  for (const [kind, count] of Object.entries(from)) into[kind] = (into[kind] ?? 0) + count
}

async function measureWorkload(
  workload: Workload,
  origin: Child,
  comparison: Comparison,
  options: InterleavedOptions
): Promise<InterleavedWorkload> {
  const variants = [comparison.baseline, comparison.candidate] as const
  const unit = workload === 'http' ? 'requests/s' : workload === 'connect' ? 'tunnels/s' : 'MiB/s'
  const perSide: [{ slice: Slice; ops: number }[], { slice: Slice; ops: number }[]] = [[], []]
  const errors: [Record<string, number>, Record<string, number>] = [{}, {}]
  const blockRatios: number[] = []
  const processRatios: number[] = []
  const suspect: string[] = []
  for (let p = 1; p <= options.processes; p++) {
    // The variants take turns at being started first, in case that matters.
    const swap = p % 2 === 0
    const order = swap ? [variants[1], variants[0]] : [...variants]
    const child = await startChild('./proxy-server.ts', order, `proxy child (${order.join(' + ')})`)
    options.onProxyStarted?.(child.pid)
    const ports = swap ? [child.ports[1]!, child.ports[0]!] : child.ports
    const drivers = ports.map((port) => driverFor(workload, port, origin.port, options.connections)) as [
      Driver,
      Driver
    ]
    try {
      const stderrBefore = child.stderr()
      const servedBefore = await originServed(origin.port)
      const first = (await runSlices(drivers, child.pid, options.warmupSeconds, 0)).length
      const warm = drivers.map((d) => sum(d.completed.slice(0, first).filter(Boolean)))
      const slices = await runSlices(drivers, child.pid, options.seconds, first)
      const ops = slices.map((slice, i) => drivers[slice.side].completed[first + i] ?? 0)
      const rate = (s: 0 | 1) =>
        sum(ops.filter((_, i) => slices[i]!.side === s)) /
        sum(slices.filter((slice) => slice.side === s).map((slice) => slice.seconds))
      processRatios.push(rate(1) / rate(0))
      for (let b = 0; b + BLOCK.length <= slices.length; b += BLOCK.length) {
        const block = slices.slice(b, b + BLOCK.length).map((slice, i) => ({ slice, ops: ops[b + i]! }))
        const blockRate = (s: 0 | 1) =>
          sum(block.filter((x) => x.slice.side === s).map((x) => x.ops)) /
          sum(block.filter((x) => x.slice.side === s).map((x) => x.slice.seconds))
        blockRatios.push(blockRate(1) / blockRate(0))
      }
      slices.forEach((slice, i) => perSide[slice.side].push({ slice, ops: ops[i]! }))
      // Every counted response must have come from the origin, through the proxy.
      const served = (await originServed(origin.port)) - servedBefore
      const counted = sum(drivers.map((d) => sum(d.completed.filter(Boolean))))
      if (served < counted)
        throw new Error(
          `${workload}: the clients counted ${counted} responses but the origin served only ${served}`
        )
      drivers.forEach((d, i) => mergeErrors(errors[i]!, d.errors))
      if (child.stderr() !== stderrBefore) suspect.push(`process ${p}: proxy stderr: ${child.stderr()}`)
      options.log?.(
        `  ${workload} process ${p}: ${variants[0]} ${Math.round(rate(0))}, ${variants[1]} ${Math.round(rate(1))} ${unit}` +
          ` (${(rate(1) / rate(0)).toFixed(3)}×; warm-up ${warm.join(' / ')} operations, not counted)`
      )
    } finally {
      drivers.forEach((d) => d.close())
      await child.stop()
    }
  }
  const baseline = side(variants[0], perSide[0], errors[0])
  const candidate = side(variants[1], perSide[1], errors[1])
  for (const s of [baseline, candidate])
    if (Object.keys(s.errors).length > 0) suspect.push(`${s.variant}: errors ${JSON.stringify(s.errors)}`)
  const mean = sum(blockRatios) / blockRatios.length
  const sd = Math.sqrt(sum(blockRatios.map((r) => (r - mean) ** 2)) / (blockRatios.length - 1))
  return {
    workload,
    unit,
    comparison,
    baseline,
    candidate,
    ratio: candidate.perSecond / baseline.perSecond,
    standardError: sd / Math.sqrt(blockRatios.length),
    processRatios,
    blocks: blockRatios.length,
    suspect
  }
}

export async function measureInterleaved(
  comparison: Comparison,
  options: InterleavedOptions
): Promise<InterleavedWorkload[]> {
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  try {
    const results: InterleavedWorkload[] = []
    for (const workload of options.workloads)
      results.push(await measureWorkload(workload, origin, comparison, options))
    return results
  } finally {
    await origin.stop()
  }
}
