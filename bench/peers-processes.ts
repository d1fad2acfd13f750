/**
 * The proxies the peers benchmark compares, each started fresh in its own process on the proxy CPU:
 * bare proxy-chain (`new Server()` and nothing else, bench/peers-bare.ts), Debian's Squid (no
 * cache, no access log), Debian's Privoxy (no actions or filters) and Junction as headless mode runs
 * it (out/main/serve.js, as npm run serve runs it: one process with the dashboard, 1,000 rules, statistics and the request log file
 * on). Squid and Privoxy keep their defaults otherwise; where a default would make a workload
 * impossible (Privoxy accepts 128 clients), the change is listed in PEER_NOTES.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { chownSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ENGINE_RULES } from './child-common.ts'
import { generateProfile } from './generate-rules.ts'
import { pinnedCommand, type Pinning } from './pinning.ts'
import { treeRss } from './proc.ts'
import { builtServeEntry, servedNodeFlags } from './built-serve.ts'

export type ProxyName = 'bare' | 'squid' | 'privoxy' | 'junction'
/** `direct`: the load goes straight to the origin; the reference every ratio is taken against. */
export type PeerName = 'direct' | ProxyName

export const PROXIES: readonly ProxyName[] = ['bare', 'squid', 'privoxy', 'junction']

/** What differs from each peer's shipped defaults, for the report. */
export const PEER_NOTES: Record<ProxyName, string> = {
  bare: 'proxy-chain 3.0.1, new Server({ host, port }) in its own Node process',
  squid: 'Debian squid, -N (one process), cache deny all, access_log none, max_filedescriptors 16384',
  privoxy:
    'Debian privoxy, no actionsfile/filterfile, keep-alive-timeout 5 and socket-timeout 300 as in ' +
    "Debian's config, max-client-connections 6000 (default 128)",
  junction: `headless mode (out/main/serve.js, dashboard on), ${ENGINE_RULES.toLocaleString('en-US')} rules, statistics, request log file on`
}

export interface ProxyPeer {
  name: ProxyName
  pid: number
  port: number
  /** Resident memory of the peer's whole process tree and how many processes that is. */
  memory(): { rssMiB: number; processes: number }
  /** Recent stderr, for diagnostics. */
  stderr(): string
  /** SIGTERM, then SIGKILL after 3 s; throws if the peer had died on its own. */
  stop(): Promise<void>
}

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const START_TIMEOUT_MS = 30_000
const STOP_GRACE_MS = 3000
const STDERR_LIMIT = 4096
const TS_FLAGS = process.features.typescript ? [] : ['--experimental-strip-types', '--no-warnings']

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGKILL')
})

/** A port that was free a moment ago; squid and privoxy take their port from a config file. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

interface Launch {
  file: string
  args: string[]
  /** Reads the port from what the peer printed so far, or returns null while it is not ready. */
  portFromOutput?: (stdout: string) => number | null
  /** Or: the port it was configured with, ready once it accepts connections. */
  port?: number
  cleanup(): void
}

async function launch(
  name: ProxyName,
  pinning: Pinning,
  how: Launch,
  env: NodeJS.ProcessEnv = process.env
): Promise<ProxyPeer> {
  const [file, args] = pinnedCommand(pinning, how.file, how.args)
  const proc = spawn(file, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env })
  live.add(proc)
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString()).slice(-STDERR_LIMIT)))
  proc.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_LIMIT)))
  let exitedHow: string | null = null
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      exitedHow = signal ?? `exit code ${code}`
      live.delete(proc)
      how.cleanup()
      resolve()
    })
  )
  const started = performance.now()
  let port: number | null = null
  while (port === null) {
    if (exitedHow) throw new Error(`${name} exited (${exitedHow}) before listening:\n${stderr}${stdout}`)
    if (performance.now() - started > START_TIMEOUT_MS) {
      proc.kill('SIGKILL')
      throw new Error(`${name} did not listen within ${START_TIMEOUT_MS} ms:\n${stderr}${stdout}`)
    }
    if (how.portFromOutput) port = how.portFromOutput(stdout)
    else if (await accepts(how.port!)) port = how.port!
    if (port === null) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  let stopping = false
  return {
    name,
    pid: proc.pid!,
    port,
    memory() {
      const { kib, processes } = treeRss(proc.pid!)
      return { rssMiB: kib / 1024, processes }
    },
    stderr: () => stderr,
    async stop() {
      if (stopping) return
      stopping = true
      if (exitedHow) throw new Error(`${name} died during the benchmark (${exitedHow}):\n${stderr}`)
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS)
      await exited
      clearTimeout(timer)
    }
  }
}

function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** uid and gid of the `proxy` user, which Debian's squid switches to when started as root. */
function proxyUser(): { uid: number; gid: number } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid] = line.split(':')
    if (user === 'proxy') return { uid: Number(uid), gid: Number(gid) }
  }
  return null
}

async function squid(): Promise<Launch> {
  const { dir, remove } = tempDir('junction-peer-squid-')
  const port = await freePort()
  const conf = path.join(dir, 'squid.conf')
  writeFileSync(
    conf,
    [
      `http_port 127.0.0.1:${port}`,
      // It listens on loopback only; no Safe_ports/SSL_ports rules, so tunnels to any port are allowed.
      'http_access allow all',
      'cache deny all',
      'access_log none',
      'cache_store_log none',
      `cache_log ${path.join(dir, 'cache.log')}`,
      `pid_filename ${path.join(dir, 'squid.pid')}`,
      `coredump_dir ${dir}`,
      // Targets are IP literals; never ask the machine's resolver anything.
      'dns_nameservers 127.0.0.1',
      'visible_hostname junction-bench',
      'max_filedescriptors 16384',
      'pinger_enable off',
      'netdb_filename none',
      'icp_port 0',
      'htcp_port 0',
      'logfile_rotate 0',
      'shutdown_lifetime 0 seconds',
      ''
    ].join('\n')
  )
  if (process.getuid?.() === 0) {
    const user = proxyUser()
    if (!user) throw new Error("squid: running as root but there is no 'proxy' user for it to switch to")
    chmodSync(dir, 0o750)
    chownSync(dir, user.uid, user.gid)
  }
  return { file: '/usr/sbin/squid', args: ['-N', '-f', conf], port, cleanup: remove }
}

async function privoxy(): Promise<Launch> {
  const { dir, remove } = tempDir('junction-peer-privoxy-')
  const port = await freePort()
  const conf = path.join(dir, 'config')
  writeFileSync(
    conf,
    [
      `listen-address 127.0.0.1:${port}`,
      `confdir ${dir}`,
      `logdir ${dir}`,
      'enable-remote-toggle 0',
      'enable-remote-http-toggle 0',
      'enable-edit-actions 0',
      'keep-alive-timeout 5',
      'tolerate-pipelining 1',
      'socket-timeout 300',
      'max-client-connections 6000',
      ''
    ].join('\n')
  )
  return { file: '/usr/sbin/privoxy', args: ['--no-daemon', conf], port, cleanup: remove }
}

function bare(): Launch {
  return {
    file: process.execPath,
    args: [...TS_FLAGS, path.join(ROOT, 'bench/peers-bare.ts')],
    portFromOutput: (stdout) => {
      const line = /^\{.*\}$/m.exec(stdout)?.[0]
      return line ? (JSON.parse(line) as { port: number }).port : null
    },
    cleanup: () => undefined
  }
}

/**
 * Headless mode in a fresh data directory holding the benchmark profile and the settings it needs;
 * `entry` another build's out/main/serve.js, `nodeFlags` other Node flags than npm run serve's, to
 * compare.
 */
function junction(entry = builtServeEntry(), nodeFlags = servedNodeFlags()): Launch {
  const { dir, remove } = tempDir('junction-peer-headless-')
  const profile = { ...generateProfile(ENGINE_RULES, 1), id: 'bench', name: 'Bench' }
  writeFileSync(path.join(dir, 'profiles.json'), JSON.stringify({ version: 1, profiles: [profile] }))
  writeFileSync(
    path.join(dir, 'settings.json'),
    JSON.stringify({ version: 1, activeProfileId: 'bench', requestLogFile: true })
  )
  return {
    file: process.execPath,
    args: [...nodeFlags, entry, '--port', '0', '--data-dir', dir, '--system-proxy', 'off'],
    // Ready once the dashboard listens too: that is when headless mode has finished starting.
    portFromOutput: (stdout) => {
      if (!/dashboard: http/.test(stdout)) return null
      const port = /proxy listening on http:\/\/127\.0\.0\.1:(\d+) — profile "Bench"/.exec(stdout)?.[1]
      if (!port) throw new Error(`junction did not start with the Bench profile:\n${stdout}`)
      return Number(port)
    },
    cleanup: remove
  }
}

/** Starts one peer, fresh, on the proxy CPU (`env`: its environment, this process's by default). */
export async function startPeer(
  name: ProxyName,
  pinning: Pinning,
  entry?: string,
  nodeFlags?: string[],
  env?: NodeJS.ProcessEnv
): Promise<ProxyPeer> {
  const how =
    name === 'squid'
      ? await squid()
      : name === 'privoxy'
        ? await privoxy()
        : name === 'bare'
          ? bare()
          : junction(entry, nodeFlags)
  try {
    return await launch(name, pinning, how, env)
  } catch (error) {
    how.cleanup()
    throw error
  }
}
