/**
 * The local certificate authority against real files and real TLS: created on first use with the
 * right modes, reopened unchanged, regenerated, repaired when broken, sealed by a keychain when one
 * is given; leaves verify in Node's TLS client for a client that trusts the CA and fail for one that
 * does not; the leaf cache is a bounded LRU that shares issuances in flight.
 */
import { X509Certificate } from 'node:crypto'
import { existsSync, promises as fs } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LocalAuthority } from '../../../main/intercept/authority.ts'
import type { SecretCodec } from '../../../main/profiles/secrets.ts'

let dataDir: string
const servers: net.Server[] = []

beforeEach(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-ca-'))
})
afterEach(async () => {
  for (const server of servers.splice(0)) server.close()
  await fs.rm(dataDir, { recursive: true, force: true })
})

const caFile = (name: string) => path.join(dataDir, 'ca', name)
const mode = async (file: string) => (await fs.stat(file)).mode & 0o777

/**
 * A TLS server on 127.0.0.1 presenting the context, the way the engine terminates an intercepted
 * tunnel: a TLSSocket over the accepted socket (tls.Server would build its own context from
 * options). Answers "ok" and closes.
 */
async function serve(context: tls.SecureContext): Promise<number> {
  const server = net.createServer((raw) => {
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: context })
    socket.on('secure', () => socket.end('ok'))
    socket.on('error', () => raw.destroy())
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** Connects as a client that trusts only `ca`; resolves with the peer certificate or the failure. */
function handshake(
  port: number,
  options: { ca: string; servername?: string }
): Promise<tls.PeerCertificate | Error> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options }, () => {
      resolve(socket.getPeerCertificate())
      socket.destroy()
    })
    socket.on('error', resolve)
  })
}

/** A stand-in keychain: reversible, and visibly not the plain PEM. */
const reversing: SecretCodec = {
  seal: (plain) => Buffer.from(plain).toString('base64'),
  open: (sealed) => Buffer.from(sealed, 'base64').toString()
}

describe('LocalAuthority files', () => {
  it('creates nothing until first used, then a named CA with a 0600 key and a 0644 certificate', async () => {
    const authority = LocalAuthority.open(dataDir, { owner: 'ada@lab' })
    expect(existsSync(path.join(dataDir, 'ca'))).toBe(false)
    expect(await authority.ensure()).toEqual({ problem: null })
    expect(await mode(caFile('junction-ca.key'))).toBe(0o600)
    expect(await mode(caFile('junction-ca.pem'))).toBe(0o644)
    const onDisk = new X509Certificate(await fs.readFile(caFile('junction-ca.pem')))
    expect(onDisk.subject).toBe('CN=Junction Local CA (ada@lab)')
    expect(onDisk.ca).toBe(true)
    expect(onDisk.fingerprint256).toBe(authority.fingerprintSha256)
    expect(authority.certificateDer.equals(onDisk.raw)).toBe(true)
    const years = (authority.notAfter.getTime() - Date.now()) / (365.25 * 24 * 3600 * 1000)
    expect(years).toBeGreaterThan(9.9)
    expect(years).toBeLessThan(10.1)
  })

  it('survives a reopen with the same certificate', async () => {
    const first = LocalAuthority.open(dataDir)
    await first.ensure()
    const second = LocalAuthority.open(dataDir)
    expect(await second.ensure()).toEqual({ problem: null })
    expect(second.fingerprintSha256).toBe(first.fingerprintSha256)
    expect(second.spkiSha256Base64).toBe(first.spkiSha256Base64)
  })

  it('regenerates: a new fingerprint on disk, and no leaf of the old CA is served again', async () => {
    const authority = LocalAuthority.open(dataDir)
    const oldContext = await authority.contextFor('localhost')
    const oldPem = authority.certificatePem
    const oldFingerprint = authority.fingerprintSha256
    await authority.regenerate()
    expect(authority.fingerprintSha256).not.toBe(oldFingerprint)
    expect(authority.cachedLeaves).toBe(0)
    expect(new X509Certificate(await fs.readFile(caFile('junction-ca.pem'))).fingerprint256).toBe(
      authority.fingerprintSha256
    )
    const newContext = await authority.contextFor('localhost')
    expect(newContext).not.toBe(oldContext)
    const port = await serve(newContext)
    expect(
      await handshake(port, { ca: authority.certificatePem, servername: 'localhost' })
    ).not.toBeInstanceOf(Error)
    expect(await handshake(port, { ca: oldPem, servername: 'localhost' })).toBeInstanceOf(Error)
    // A restart reads the regenerated CA.
    const reopened = LocalAuthority.open(dataDir)
    await reopened.ensure()
    expect(reopened.fingerprintSha256).toBe(authority.fingerprintSha256)
  })

  it('sets a corrupt key aside and creates a new CA, saying where the old files went', async () => {
    const first = LocalAuthority.open(dataDir)
    await first.ensure()
    await fs.writeFile(caFile('junction-ca.key'), 'not a key')
    const now = new Date('2031-02-03T04:05:06.789Z')
    const second = LocalAuthority.open(dataDir, { now: () => now })
    const { problem } = await second.ensure()
    const aside = `${caFile('junction-ca.key')}.corrupt-2031-02-03T04-05-06-789Z`
    expect(problem).toContain(aside)
    expect(problem).toContain('A new one was created')
    expect(await fs.readFile(aside, 'utf8')).toBe('not a key')
    expect(existsSync(`${caFile('junction-ca.pem')}.corrupt-2031-02-03T04-05-06-789Z`)).toBe(true)
    expect(second.fingerprintSha256).not.toBe(first.fingerprintSha256)
    expect(new X509Certificate(await fs.readFile(caFile('junction-ca.pem'))).fingerprint256).toBe(
      second.fingerprintSha256
    )
  })

  it('sets aside a key that belongs to another certificate', async () => {
    const other = path.join(dataDir, 'other')
    const elsewhere = LocalAuthority.open(other)
    await elsewhere.ensure()
    const first = LocalAuthority.open(dataDir)
    await first.ensure()
    await fs.copyFile(path.join(other, 'ca', 'junction-ca.key'), caFile('junction-ca.key'))
    const { problem } = await LocalAuthority.open(dataDir).ensure()
    expect(problem).toMatch(/has a private key that does not belong to its certificate; moved to /)
  })

  it('seals the key with a keychain, and a process without it keeps the key and cannot issue', async () => {
    const sealed = LocalAuthority.open(dataDir, { codec: reversing })
    await sealed.ensure()
    const keyText = await fs.readFile(caFile('junction-ca.key'), 'utf8')
    expect(keyText.startsWith('sealed:')).toBe(true)
    expect(keyText).not.toContain('PRIVATE KEY')

    const reopened = LocalAuthority.open(dataDir, { codec: reversing })
    expect(await reopened.ensure()).toEqual({ problem: null })
    expect(reopened.fingerprintSha256).toBe(sealed.fingerprintSha256)

    const heard: string[] = []
    const headless = LocalAuthority.open(dataDir, { onProblem: (problem) => heard.push(problem) })
    expect((await headless.ensure()).problem).toMatch(/sealed by the desktop app's keychain/)
    expect(headless.unavailable).toMatch(/sealed by the desktop app's keychain/)
    // The public side is still there to export; the key is left for the app that can open it.
    expect(headless.fingerprintSha256).toBe(sealed.fingerprintSha256)
    await expect(headless.contextFor('localhost')).rejects.toThrow(/HTTPS interception is unavailable/)
    expect(await fs.readFile(caFile('junction-ca.key'), 'utf8')).toBe(keyText)
    // Reported once, however many callers wait on the load.
    expect(heard).toHaveLength(1)
    await headless.regenerate()
    expect(headless.unavailable).toBeNull()
    expect(await headless.contextFor('localhost')).toBeDefined()
  })

  it('seals a plain key as soon as a keychain is available', async () => {
    await LocalAuthority.open(dataDir).ensure()
    expect(await fs.readFile(caFile('junction-ca.key'), 'utf8')).toContain('BEGIN PRIVATE KEY')
    await LocalAuthority.open(dataDir, { codec: reversing }).ensure()
    expect((await fs.readFile(caFile('junction-ca.key'), 'utf8')).startsWith('sealed:')).toBe(true)
    expect(await mode(caFile('junction-ca.key'))).toBe(0o600)
  })
})

describe('LocalAuthority leaves', () => {
  it('serves leaves for a name and an IP that a client trusting the CA verifies', async () => {
    const authority = LocalAuthority.open(dataDir)
    const byName = await handshake(await serve(await authority.contextFor('LocalHost.')), {
      ca: authority.certificatePem,
      servername: 'localhost'
    })
    if (byName instanceof Error) throw byName
    expect(byName.subjectaltname).toBe('DNS:localhost')
    expect(byName.issuer.CN).toBe(authority.subject.replace(/^CN=/, ''))
    expect(byName.ext_key_usage).toEqual(['1.3.6.1.5.5.7.3.1'])
    const days = (Date.parse(byName.valid_to) - Date.parse(byName.valid_from)) / 86_400_000
    expect(days).toBeLessThanOrEqual(397)

    // Clients send no SNI for an IP address; Node checks the IP against the SAN.
    const byIp = await handshake(await serve(await authority.contextFor('127.0.0.1')), {
      ca: authority.certificatePem
    })
    if (byIp instanceof Error) throw byIp
    expect(byIp.subjectaltname).toBe('IP Address:127.0.0.1')
  })

  it('sends the CA certificate with the leaf, so a client pinning the CA key (Chromium) finds it', async () => {
    const authority = LocalAuthority.open(dataDir)
    const port = await serve(await authority.contextFor('localhost'))
    // No trust at all: what the client sees is only what the server sent.
    const chain = await new Promise<tls.DetailedPeerCertificate>((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false },
        () => {
          resolve(socket.getPeerCertificate(true))
          socket.destroy()
        }
      )
      socket.on('error', reject)
    })
    expect(chain.issuerCertificate.fingerprint256).toBe(authority.fingerprintSha256)
  })

  it('fails the handshake for a client that does not trust the CA', async () => {
    const authority = LocalAuthority.open(dataDir)
    const stranger = LocalAuthority.open(path.join(dataDir, 'stranger'))
    await stranger.ensure()
    const port = await serve(await authority.contextFor('localhost'))
    const failed = await handshake(port, { ca: stranger.certificatePem, servername: 'localhost' })
    expect(failed).toBeInstanceOf(Error)
    expect((failed as NodeJS.ErrnoException).code).toBe('SELF_SIGNED_CERT_IN_CHAIN')
  })

  it('refuses names that are not host names or IP addresses', async () => {
    const authority = LocalAuthority.open(dataDir)
    await expect(authority.contextFor('evil.test/,CN=x')).rejects.toThrow(/not a host name or IP address/)
    await expect(authority.contextFor('')).rejects.toThrow(/not a host name or IP address/)
  })

  it('shares one issuance between concurrent requests for a host', async () => {
    const authority = LocalAuthority.open(dataDir)
    const [a, b] = await Promise.all([authority.contextFor('a.test'), authority.contextFor('A.test')])
    expect(a).toBe(b)
    expect(authority.cachedLeaves).toBe(1)
  })

  it('keeps the most recently used hosts up to its capacity', async () => {
    const authority = LocalAuthority.open(dataDir, { capacity: 2 })
    const a = await authority.contextFor('a.test')
    const b = await authority.contextFor('b.test')
    expect(await authority.contextFor('a.test')).toBe(a)
    await authority.contextFor('c.test')
    expect(authority.cachedLeaves).toBe(2)
    // b was least recently used: it is issued again; a stayed.
    expect(await authority.contextFor('a.test')).toBe(a)
    expect(await authority.contextFor('b.test')).not.toBe(b)
  })
})
