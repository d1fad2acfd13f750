import { execFile } from 'node:child_process'
import { rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { startChild } from './child.ts'
import type { ManagedChild } from './child.ts'
import { freePort, waitForPort } from './ports.ts'

export type Upstream = { port: number; close(): Promise<void> }

export type SquidOptions = {
  username: string
  password: string
  startTimeoutMs?: number
  /**
   * Replaces the basic-auth access section (auth_param … http_access deny all) with these lines, e.g.
   * a configuration Junction exported; the rest (port, logs, no DNS, no cache) stays.
   */
  access?: string
  /** Names this squid in the Via header it adds (default junction-test), to tell two squids apart. */
  visibleHostname?: string
}

const SQUID = '/usr/sbin/squid'
const NCSA_AUTH = '/usr/lib/squid/basic_ncsa_auth'
const BIND_ATTEMPTS = 3

// The password goes in on stdin so it never shows up in a process listing.
function apr1Hash(password: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = execFile('openssl', ['passwd', '-apr1', '-stdin'], (err, stdout) => {
      if (err) reject(new Error(`openssl passwd failed: ${err.message}`))
      else resolve(stdout.trim())
    })
    child.stdin?.end(`${password}\n`)
  })
}

async function uidGidOf(user: string): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await fs.readFile('/etc/passwd', 'utf8')
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':')
    if (name === user && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) }
  }
  return undefined
}

function authAccess(dir: string): string {
  return [
    `auth_param basic program ${NCSA_AUTH} ${path.join(dir, 'passwd')}`,
    'auth_param basic children 2 startup=0 idle=1',
    'auth_param basic realm junction-test',
    // Squid lower-cases user names by default, which would silently break mixed-case test users.
    'auth_param basic casesensitive on',
    'acl auth proxy_auth REQUIRED',
    // Deliberately no Safe_ports / SSL_ports rules: tunnels to arbitrary high test ports must be allowed.
    'http_access allow auth',
    'http_access deny all'
  ].join('\n')
}

function squidConf(dir: string, port: number, opts: SquidOptions): string {
  return [
    `http_port 127.0.0.1:${port}`,
    opts.access ?? authAccess(dir),
    'cache deny all',
    // Squid 5 forwards WebSocket upgrades of absolute-URI requests only when told to.
    'http_upgrade_request_protocols websocket allow all',
    'cache_mem 8 MB',
    // Never consult the machine's resolver; IP-literal targets need no DNS and 'localhost' comes from /etc/hosts.
    'dns_nameservers 127.0.0.1',
    // Nothing answers on 127.0.0.1:53, so an unresolvable name should fail fast (503) instead of after ~30 s.
    'dns_timeout 2 seconds',
    'dns_retransmit_interval 1 seconds',
    'negative_dns_ttl 1 seconds',
    `visible_hostname ${opts.visibleHostname ?? 'junction-test'}`,
    'forwarded_for on',
    'via on',
    'shutdown_lifetime 0 seconds',
    'pinger_enable off',
    'netdb_filename none',
    'icp_port 0',
    'htcp_port 0',
    'logfile_rotate 0',
    `pid_filename ${path.join(dir, 'squid.pid')}`,
    `cache_log ${path.join(dir, 'cache.log')}`,
    `access_log stdio:${path.join(dir, 'access.log')}`,
    'cache_store_log none',
    `coredump_dir ${dir}`,
    ''
  ].join('\n')
}

const liveDirs = new Set<string>()
let exitHookInstalled = false

// If the test process dies without calling close(), child.ts SIGKILLs squid; this removes its temp dir too.
function trackDir(dir: string): void {
  liveDirs.add(dir)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const d of liveDirs) {
      try {
        rmSync(d, { recursive: true, force: true })
      } catch {
        // Best effort: squid may still be going down.
      }
    }
  })
}

async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true })
  liveDirs.delete(dir)
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).split('\n').slice(-lines).join('\n')
  } catch {
    return `(no ${path.basename(file)})`
  }
}

async function launch(
  dir: string,
  timeoutMs: number,
  opts: SquidOptions
): Promise<{ child: ManagedChild; port: number }> {
  let lastError = ''
  // freePort() releases the port before squid binds it, so another process can occasionally win the race.
  for (let attempt = 1; attempt <= BIND_ATTEMPTS; attempt++) {
    const port = await freePort()
    const confPath = path.join(dir, 'squid.conf')
    await fs.writeFile(confPath, squidConf(dir, port, opts), { mode: 0o644 })
    await fs.rm(path.join(dir, 'cache.log'), { force: true })
    const child = startChild(SQUID, ['-N', '-f', confPath], { cwd: dir })
    const up = waitForPort(port, timeoutMs).then(
      () => 'up' as const,
      () => 'timeout' as const
    )
    const outcome = await Promise.race([up, child.exited.then(() => 'exited' as const)])
    if (outcome === 'up' && !child.hasExited()) return { child, port }
    await child.stop()
    const log = await tail(path.join(dir, 'cache.log'), 25)
    lastError = `squid ${outcome === 'timeout' ? `did not accept connections within ${timeoutMs} ms` : 'exited during startup'} (attempt ${attempt}, port ${port}).\n--- cache.log tail ---\n${log}\n--- output ---\n${child.output()}`
    if (!/Address already in use|EADDRINUSE|bind\(\)/i.test(log + child.output())) break
  }
  throw new Error(lastError)
}

/**
 * Starts Debian's squid as an authenticating HTTP upstream on 127.0.0.1 (plain GET and CONNECT to any port).
 * When run as root, squid drops privileges to the 'proxy' user, so the temp dir is handed over to that user.
 */
export async function startSquid(opts: SquidOptions): Promise<Upstream> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-squid-'))
  trackDir(dir)
  try {
    const passwdPath = path.join(dir, 'passwd')
    await fs.writeFile(passwdPath, `${opts.username}:${await apr1Hash(opts.password)}\n`, { mode: 0o640 })
    await fs.chmod(dir, 0o750)
    if (process.getuid?.() === 0) {
      const ids = await uidGidOf('proxy')
      if (!ids)
        throw new Error("startSquid: running as root but there is no 'proxy' user for squid to drop to")
      await fs.chown(dir, ids.uid, ids.gid)
      await fs.chown(passwdPath, ids.uid, ids.gid)
    }
    const { child, port } = await launch(dir, opts.startTimeoutMs ?? 15_000, opts)
    let closing: Promise<void> | undefined
    const close = (): Promise<void> => {
      closing ??= (async () => {
        await child.stop(3000)
        await removeDir(dir)
      })()
      return closing
    }
    return { port, close }
  } catch (err) {
    await removeDir(dir)
    throw err
  }
}
