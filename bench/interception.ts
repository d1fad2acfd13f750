/**
 * HTTPS interception's cost: TLS handshakes per second through Junction to a host it intercepts
 * (warm leaf cache: one name; cold: a new name, so a new leaf, every time) and to one it tunnels as
 * is, then requests per second over one intercepted keep-alive TLS connection, and the local CA's
 * leaf issuance time. The engine and the HTTPS origin run in processes of their own; the clients
 * here. The three handshake loads take turns in rounds, so drift of the machine hits each alike.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import net from 'node:net'
import tls from 'node:tls'
import { LocalAuthority } from '../main/intercept/authority.ts'
import { createTestCa } from '../test/harness/ca.ts'
import { startChild } from './throughput.ts'

export interface InterceptionFigures {
  /** Handshakes per second in each round, per load. */
  tunnel: number[]
  warm: number[]
  cold: number[]
  /** Requests per second over one intercepted keep-alive connection, per round. */
  keepAlive: number[]
  /** Leaf issuance, 200 names after 20 uncounted. */
  issueP50Ms: number
  issueP90Ms: number
}

const WORKERS = 8

/** CONNECT through the proxy, then a TLS handshake with `servername`; resolves once it is done. */
function handshake(
  proxyPort: number,
  target: string,
  servername: string | undefined,
  ca: string
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(proxyPort, '127.0.0.1')
    raw.once('error', reject)
    raw.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`)
    raw.once('data', (head: Buffer) => {
      if (!head.toString('latin1').startsWith('HTTP/1.1 200'))
        return reject(new Error(`CONNECT ${target}: ${head}`))
      const secure = tls.connect({
        socket: raw,
        ca,
        ...(servername ? { servername } : { host: '127.0.0.1' })
      })
      secure.once('secureConnect', () => resolve(secure))
      secure.once('error', reject)
    })
  })
}

/** `WORKERS` loops of handshake-and-close for `seconds`; handshakes per second. */
async function handshakeLoad(seconds: number, open: (i: number) => Promise<tls.TLSSocket>): Promise<number> {
  const until = Date.now() + seconds * 1000
  let done = 0
  let next = 0
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (Date.now() < until) {
        const socket = await open(next++)
        socket.destroy()
        done++
      }
    })
  )
  return done / seconds
}

/** Sequential GETs over one intercepted keep-alive TLS connection for `seconds`; requests per second. */
async function keepAliveLoad(seconds: number, socket: tls.TLSSocket, host: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  agent.createConnection = () => socket
  const until = Date.now() + seconds * 1000
  let done = 0
  while (Date.now() < until) {
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ agent, host, path: '/', headers: { host } }, (res) => {
        res.resume()
        res.once('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))
        )
      })
      req.once('error', reject)
      req.end()
    })
    done++
  }
  return done / seconds
}

async function issuance(): Promise<{ p50: number; p90: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'junction-bench-ca-'))
  try {
    const authority = LocalAuthority.open(dir)
    await authority.ensure()
    const times: number[] = []
    for (let i = 0; i < 220; i++) {
      const started = process.hrtime.bigint()
      await authority.contextFor(`issue-${i}.bench.test`)
      if (i >= 20) times.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    times.sort((a, b) => a - b)
    return { p50: times[Math.floor(times.length / 2)]!, p90: times[Math.floor(times.length * 0.9)]! }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function measureInterception(rounds = 4, seconds = 3): Promise<InterceptionFigures> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'junction-bench-intercept-'))
  const ca = await createTestCa()
  const leaf = await ca.issue(['127.0.0.1', 'localhost', 'warm.bench.test'])
  const files = {
    ca: path.join(dir, 'origin-ca.pem'),
    key: path.join(dir, 'origin.key'),
    cert: path.join(dir, 'origin.pem')
  }
  writeFileSync(files.ca, ca.certPem)
  writeFileSync(files.key, leaf.keyPem)
  writeFileSync(files.cert, leaf.certPem)
  const env = { ...process.env, BENCH_ORIGIN_KEY: files.key, BENCH_ORIGIN_CERT: files.cert }
  const origin = await startChild('./tls-origin.ts', [], 'HTTPS origin', env)
  const proxy = await startChild('./intercept-server.ts', [], 'proxy child (interception)', {
    ...env,
    BENCH_DATA_DIR: path.join(dir, 'data'),
    BENCH_ORIGIN_CA: files.ca
  })
  const junctionCa = readFileSync(path.join(dir, 'data/ca/junction-ca.pem'), 'utf8')
  const figures: InterceptionFigures = {
    tunnel: [],
    warm: [],
    cold: [],
    keepAlive: [],
    issueP50Ms: 0,
    issueP90Ms: 0
  }
  try {
    const loads = {
      tunnel: () =>
        handshakeLoad(seconds, () =>
          handshake(proxy.port, `127.0.0.1:${origin.port}`, undefined, ca.certPem)
        ),
      warm: () =>
        handshakeLoad(seconds, () =>
          handshake(proxy.port, `warm.bench.test:${origin.port}`, 'warm.bench.test', junctionCa)
        ),
      cold: () => {
        const round = Math.random().toString(36).slice(2, 8)
        return handshakeLoad(seconds, (i) => {
          const name = `c${i}-${round}.bench.test`
          return handshake(proxy.port, `${name}:${origin.port}`, name, junctionCa)
        })
      }
    }
    // One uncounted round warms the JIT and the warm name's leaf.
    for (const load of Object.values(loads)) await load()
    for (let r = 0; r < rounds; r++) {
      const order = (
        r % 2 === 0 ? ['tunnel', 'warm', 'cold'] : ['cold', 'warm', 'tunnel']
      ) as (keyof typeof loads)[]
      for (const name of order) figures[name].push(await loads[name]())
      const socket = await handshake(
        proxy.port,
        `warm.bench.test:${origin.port}`,
        'warm.bench.test',
        junctionCa
      )
      figures.keepAlive.push(await keepAliveLoad(seconds, socket, `warm.bench.test:${origin.port}`))
      socket.destroy()
    }
    const issued = await issuance()
    figures.issueP50Ms = issued.p50
    figures.issueP90Ms = issued.p90
  } finally {
    await proxy.stop()
    await origin.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  return figures
}
