/**
 * Junction's local certificate authority, for HTTPS interception: a CA certificate the user chooses
 * to trust, and per-host leaf certificates signed by it that the engine presents to clients of
 * intercepted hosts.
 *
 * - Created on first use, not at start: `open()` touches no file; the first `ensure()`,
 *   `contextFor()` or `regenerate()` loads `<data dir>/ca/` or creates it. A user who never
 *   intercepts never gets a CA.
 * - EC P-256 through WebCrypto and `@peculiar/x509`: no RSA key generation on the request path. The
 *   library is loaded with the CA, so a user who never intercepts does not carry it (about 10 MiB).
 *   One leaf key pair per authority (kept in memory only) serves every leaf, so issuing a leaf is one
 *   ECDSA signature plus encoding, about 2 ms. Leaves are cached per host (LRU), and concurrent
 *   requests for a host share one issuance.
 * - `junction-ca.key` (PKCS#8 PEM, mode 0600) never leaves the data directory; with a `SecretCodec`
 *   (the desktop app's OS keychain) it is stored sealed. `junction-ca.pem` (mode 0644) is the public
 *   certificate users install. Both are written atomically.
 * - A key/certificate pair that cannot be used (unreadable, mismatched, expired, not a CA) is moved
 *   aside to `.corrupt-<timestamp>` and a new CA is created, reported like the stores report a broken
 *   file. A key sealed by a keychain this process cannot open is left in place: interception is
 *   unavailable until the desktop app opens it again or the user regenerates the CA.
 */
import crypto, { X509Certificate, type webcrypto } from 'node:crypto'
import { promises as fs } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import type * as X509 from '@peculiar/x509'
import { writeAtomically } from '../config/json-file.ts'
import { isSealed, SEALED_PREFIX, type SecretCodec } from '../profiles/secrets.ts'
import type { LeafIssuer } from '../engine/intercept.ts'

let x509Library: Promise<typeof X509> | null = null

/** `@peculiar/x509`, loaded on first use, after the Reflect metadata polyfill its tsyringe needs. */
function loadX509(): Promise<typeof X509> {
  x509Library ??= (async () => {
    await import('reflect-metadata')
    const x509 = await import('@peculiar/x509')
    x509.cryptoProvider.set(crypto.webcrypto)
    return x509
  })()
  return x509Library
}

/** What the engine needs of a CA: a TLS context presenting a leaf for the host. */
export type { LeafIssuer }

export const CA_DIR = 'ca'
export const CA_CERT_FILE = 'junction-ca.pem'
export const CA_KEY_FILE = 'junction-ca.key'

const KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const
const DAY_MS = 24 * 60 * 60 * 1000
const CA_YEARS = 10
// Apple and the CA/Browser Forum cap server certificates at 398 days; stay a day under, counted
// from the back-dated notBefore.
const LEAF_DAYS = 397
// Back-dated so a device whose clock is a little behind still accepts a fresh certificate.
const BACKDATE_MS = 2 * DAY_MS
// X.520 caps a common name at 64 characters; longer host names live in the SAN only.
const MAX_CN = 64
const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/

export interface AuthorityOptions {
  /** Seals the private key at rest (the desktop app passes the OS keychain); null stores it plain, mode 0600. */
  codec?: SecretCodec | null
  /** How many hosts' leaves are kept (least recently used dropped first). */
  capacity?: number
  /** Names the CA "Junction Local CA (<user>@<host>)"; defaults to this machine's. */
  owner?: string
  now?: () => Date
  /** Hears what `ensure()` reports, whichever caller (the engine, the UI) loaded the CA first. */
  onProblem?: (problem: string) => void
}

export interface EnsureReport {
  /** What was wrong with the files on disk, in words; null when they loaded or were created cleanly. */
  problem: string | null
}

/** A loaded CA: its certificate, and the signer when the private key could be opened. */
interface Loaded {
  pem: string
  cert: X509Certificate
  x509: X509.X509Certificate
  signer: Signer | null
  /** Why leaves cannot be issued, when `signer` is null. */
  unavailable: string | null
}

interface Signer {
  caKey: webcrypto.CryptoKey
  leafPublicKey: webcrypto.CryptoKey
  leafKeyPem: string
  /** Shared by every leaf: one leaf key, one issuer. */
  fixedExtensions: X509.Extension[]
}

function defaultOwner(): string {
  let user: string
  try {
    user = os.userInfo().username
  } catch {
    // No passwd entry (some containers): fall back to the environment.
    user = process.env.USER ?? process.env.USERNAME ?? 'user'
  }
  return `${user}@${os.hostname()}`
}

// Positive, non-zero 16-byte serial (RFC 5280 §4.1.2.2); random so that two leaves never share one.
function randomSerial(): string {
  const bytes = crypto.randomBytes(16)
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01
  return bytes.toString('hex')
}

function spkiDer(key: crypto.KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' })
}

/**
 * The host as a SAN entry: an IP literal (brackets and zone dropped) or a lowercase DNS name
 * without the trailing dot. SNI and CONNECT targets come from clients, so anything else is refused.
 */
export function leafName(host: string): { type: 'ip' | 'dns'; value: string } {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (net.isIP(bare)) return { type: 'ip', value: bare }
  const name = bare.toLowerCase().replace(/\.$/, '')
  if (!DNS_NAME.test(name))
    throw new Error(`Cannot issue a certificate for "${host.slice(0, 300)}": not a host name or IP address`)
  return { type: 'dns', value: name }
}

export class LocalAuthority implements LeafIssuer {
  readonly dir: string
  readonly pemPath: string
  readonly keyPath: string
  readonly #codec: SecretCodec | null
  readonly #capacity: number
  readonly #owner: string
  readonly #now: () => Date
  readonly #onProblem: (problem: string) => void
  #ready: Promise<EnsureReport> | null = null
  #loaded: Loaded | null = null
  /** Host → issued context (or the issuance under way); Map order is recency, oldest first. */
  #leaves = new Map<string, Promise<tls.SecureContext>>()

  private constructor(dataDir: string, options: AuthorityOptions) {
    this.dir = path.join(dataDir, CA_DIR)
    this.pemPath = path.join(this.dir, CA_CERT_FILE)
    this.keyPath = path.join(this.dir, CA_KEY_FILE)
    this.#codec = options.codec ?? null
    this.#capacity = options.capacity ?? 1000
    this.#owner = options.owner ?? defaultOwner()
    this.#now = options.now ?? (() => new Date())
    this.#onProblem = options.onProblem ?? (() => undefined)
  }

  /** The authority for a data directory. Nothing is read or written until it is first used. */
  static open(dataDir: string, options: AuthorityOptions = {}): LocalAuthority {
    return new LocalAuthority(dataDir, options)
  }

  /** Loads the CA, or creates it on first use. Runs once; later calls return the first report. */
  ensure(): Promise<EnsureReport> {
    this.#ready ??= this.#load().then(
      (report) => {
        if (report.problem) this.#onProblem(report.problem)
        return report
      },
      (error: unknown) => {
        // A failed load (disk full, permissions) is retried on the next use rather than remembered.
        this.#ready = null
        throw error
      }
    )
    return this.#ready
  }

  /** How many hosts' leaves are cached right now. */
  get cachedLeaves(): number {
    return this.#leaves.size
  }

  /** Why leaves cannot be issued (the key is sealed by a keychain this process cannot open), or null. */
  get unavailable(): string | null {
    return this.#current().unavailable
  }

  get certificatePem(): string {
    return this.#current().pem
  }
  get certificateDer(): Buffer {
    return this.#current().cert.raw
  }
  /** SHA-256 of the certificate, colon-separated upper-case hex, as certificate viewers show it. */
  get fingerprintSha256(): string {
    return this.#current().cert.fingerprint256
  }
  /** Base64 SHA-256 of the public key, for Chromium's `--ignore-certificate-errors-spki-list`. */
  get spkiSha256Base64(): string {
    return crypto.createHash('sha256').update(spkiDer(this.#current().cert.publicKey)).digest('base64')
  }
  get subject(): string {
    return this.#current().x509.subject
  }
  get notAfter(): Date {
    return this.#current().x509.notAfter
  }

  /**
   * A TLS context presenting a leaf for `host` (a DNS name or IP literal), issued on first request
   * and cached. The chain includes the CA certificate so that a client pinning the CA's public key
   * (Chromium's SPKI list) finds it.
   */
  contextFor(host: string): Promise<tls.SecureContext> {
    let name: { type: 'ip' | 'dns'; value: string }
    try {
      name = leafName(host)
    } catch (error) {
      return Promise.reject(error as Error)
    }
    const key = name.value
    const cached = this.#leaves.get(key)
    if (cached) {
      // Re-inserted to mark it most recently used.
      this.#leaves.delete(key)
      this.#leaves.set(key, cached)
      return cached
    }
    const leaves = this.#leaves
    const issued = this.ensure().then(() => this.#issue(name))
    // A failed issuance is not cached, so the next request tries again.
    issued.catch(() => {
      if (leaves.get(key) === issued) leaves.delete(key)
    })
    leaves.set(key, issued)
    if (leaves.size > this.#capacity) leaves.delete(leaves.keys().next().value!)
    return issued
  }

  /**
   * Replaces the CA with a new one (new key, new certificate) and forgets every issued leaf. Clients
   * that trusted the old CA stop trusting intercepted hosts until they trust the new one.
   */
  async regenerate(): Promise<void> {
    // Never race a first load that could write its own CA after ours.
    await this.ensure().catch(() => undefined)
    this.#leaves = new Map()
    this.#loaded = await this.#create()
    this.#ready = Promise.resolve({ problem: null })
  }

  #current(): Loaded {
    if (!this.#loaded) throw new Error('The certificate authority is not loaded yet (call ensure() first)')
    return this.#loaded
  }

  async #load(): Promise<EnsureReport> {
    const [keyText, pem] = await Promise.all([readIfExists(this.keyPath), readIfExists(this.pemPath)])
    if (keyText === null && pem === null) {
      this.#loaded = await this.#create()
      return { problem: null }
    }
    let reason: string
    try {
      const loaded = await this.#parse(keyText, pem)
      if (typeof loaded !== 'string') {
        this.#loaded = loaded
        return { problem: loaded.unavailable }
      }
      reason = loaded
    } catch (error) {
      reason = `cannot be used: ${(error as Error).message}`
    }
    const moved = await this.#setAside()
    this.#loaded = await this.#create()
    const where = moved.length > 0 ? `; moved to ${moved.join(' and ')}` : ''
    return {
      problem: `The certificate authority in ${this.dir} ${reason}${where}. A new one was created: devices that trusted the old one must trust the new one.`
    }
  }

  /** The pair on disk, or why it cannot be used. */
  async #parse(keyText: string | null, pem: string | null): Promise<Loaded | string> {
    const x509 = await loadX509()
    if (pem === null) return `has a private key but no certificate (${CA_CERT_FILE})`
    if (keyText === null) return `has a certificate but no private key (${CA_KEY_FILE})`
    const cert = new X509Certificate(pem)
    if (!cert.ca) return 'has a certificate that is not a CA certificate'
    if (new Date(cert.validTo).getTime() <= this.#now().getTime()) return `expired on ${cert.validTo}`
    const loaded: Loaded = { pem, cert, x509: new x509.X509Certificate(pem), signer: null, unavailable: null }
    let keyPem: string
    if (isSealed(keyText.trim())) {
      try {
        if (!this.#codec) throw new Error('no keychain is available here')
        keyPem = this.#codec.open(keyText.trim().slice(SEALED_PREFIX.length))
      } catch (error) {
        // Not corrupt, only closed to this process: keep it for the app that sealed it.
        loaded.unavailable = `The certificate authority's private key (${this.keyPath}) is sealed by the desktop app's keychain and cannot be opened here (${(error as Error).message}); HTTPS interception is unavailable until it can be, or until the CA is regenerated.`
        return loaded
      }
    } else {
      keyPem = keyText
    }
    const key = crypto.createPrivateKey(keyPem)
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return 'has a private key that is not EC P-256'
    if (!spkiDer(crypto.createPublicKey(key)).equals(spkiDer(cert.publicKey)))
      return 'has a private key that does not belong to its certificate'
    loaded.signer = await this.#signer(key, loaded.x509)
    // A key written plain (by headless mode) is sealed as soon as a keychain is available.
    if (this.#codec && !isSealed(keyText.trim())) await this.#writeKey(keyPem)
    return loaded
  }

  async #create(): Promise<Loaded> {
    const x509 = await loadX509()
    const keys = await crypto.webcrypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify'])
    const now = this.#now().getTime()
    const notAfter = new Date(now)
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS)
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      // The JSON form needs no escaping, whatever the user or host name holds.
      name: [{ CN: [`Junction Local CA (${this.#owner})`] }],
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      signingAlgorithm: SIGN_ALG,
      keys,
      extensions: [
        // pathLen 0: this CA signs leaves only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)
      ]
    })
    const pem = ca.toString('pem')
    const keyObject = crypto.KeyObject.from(keys.privateKey)
    // Key first: a crash between the two writes leaves a mismatched pair, which the next load
    // detects and replaces, never a certificate whose key is gone without a trace.
    await this.#writeKey(keyObject.export({ type: 'pkcs8', format: 'pem' }).toString())
    await writeAtomically(this.pemPath, `${pem}\n`)
    await fs.chmod(this.pemPath, 0o644)
    return {
      pem: `${pem}\n`,
      cert: new X509Certificate(pem),
      x509: ca,
      signer: await this.#signer(keyObject, ca),
      unavailable: null
    }
  }

  async #writeKey(keyPem: string): Promise<void> {
    const text = this.#codec ? `${SEALED_PREFIX}${this.#codec.seal(keyPem)}\n` : keyPem
    // writeAtomically creates the file with mode 0600; the chmod covers a key file that existed
    // with looser permissions before.
    await writeAtomically(this.keyPath, text)
    await fs.chmod(this.keyPath, 0o600)
  }

  async #signer(caKey: crypto.KeyObject, ca: X509.X509Certificate): Promise<Signer> {
    const x509 = await loadX509()
    const leafKeys = await crypto.webcrypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify'])
    return {
      caKey: await crypto.webcrypto.subtle.importKey(
        'pkcs8',
        caKey.export({ type: 'pkcs8', format: 'der' }),
        KEY_ALG,
        false,
        ['sign']
      ),
      leafPublicKey: leafKeys.publicKey,
      leafKeyPem: crypto.KeyObject.from(leafKeys.privateKey)
        .export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      fixedExtensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(ca)
      ]
    }
  }

  async #issue(name: { type: 'ip' | 'dns'; value: string }): Promise<tls.SecureContext> {
    const loaded = this.#current()
    if (!loaded.signer) throw new Error(loaded.unavailable ?? 'The certificate authority cannot sign')
    const { signer } = loaded
    const x509 = await loadX509()
    const now = this.#now().getTime()
    const notBefore = new Date(now - BACKDATE_MS)
    // A leaf never outlives its CA.
    const notAfter = new Date(
      Math.min(notBefore.getTime() + LEAF_DAYS * DAY_MS, loaded.x509.notAfter.getTime())
    )
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: name.value.length <= MAX_CN ? [{ CN: [name.value] }] : [{ O: ['Junction interception'] }],
      issuer: loaded.x509.subjectName,
      notBefore,
      notAfter,
      signingAlgorithm: SIGN_ALG,
      publicKey: signer.leafPublicKey,
      signingKey: signer.caKey,
      extensions: [...signer.fixedExtensions, new x509.SubjectAlternativeNameExtension([name])]
    })
    return tls.createSecureContext({ key: signer.leafKeyPem, cert: `${leaf.toString('pem')}\n${loaded.pem}` })
  }

  /** Moves whatever is left of an unusable pair aside; returns where each file went. */
  async #setAside(): Promise<string[]> {
    const stamp = this.#now().toISOString().replace(/[:.]/g, '-')
    const moved: string[] = []
    for (const file of [this.keyPath, this.pemPath]) {
      const aside = `${file}.corrupt-${stamp}`
      try {
        await fs.rename(file, aside)
        moved.push(aside)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
    }
    return moved
  }
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}
