// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata'
import crypto from 'node:crypto'
import type { webcrypto } from 'node:crypto'
import net from 'node:net'
import * as x509 from '@peculiar/x509'

export type IssuedCert = { keyPem: string; certPem: string }

export type TestCa = {
  certPem: string
  /**
   * Issues a serverAuth leaf for the given DNS names and/or IP literals (e.g. 'localhost', '127.0.0.1',
   * '::1'); `expired` makes one whose validity ended yesterday.
   */
  issue(names: string[], options?: { expired?: boolean }): Promise<IssuedCert>
}

x509.cryptoProvider.set(crypto.webcrypto)

const KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const
const DAY_MS = 24 * 60 * 60 * 1000

function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.webcrypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify'])
}

function privateKeyPem(key: webcrypto.CryptoKey): string {
  return crypto.KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString()
}

// Positive, non-zero 16-byte serial: random serials keep repeated test runs from colliding in any client cache.
function randomSerial(): string {
  const bytes = crypto.randomBytes(16)
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01
  return bytes.toString('hex')
}

// Back-dated so a slightly skewed clock between test processes never makes a fresh cert "not yet valid".
function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now()
  return { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + days * DAY_MS) }
}

export async function createTestCa(): Promise<TestCa> {
  const caKeys = await generateKeys()
  const caName = `CN=Junction Test CA ${crypto.randomBytes(4).toString('hex')}`
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: caName,
    ...validity(30),
    signingAlgorithm: SIGN_ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey)
    ]
  })

  async function issue(names: string[], options: { expired?: boolean } = {}): Promise<IssuedCert> {
    if (names.length === 0) throw new Error('issue: at least one DNS name or IP address is required')
    const leafKeys = await generateKeys()
    const altNames = names.map((n) => ({ type: net.isIP(n) ? ('ip' as const) : ('dns' as const), value: n }))
    const firstName = names[0] ?? 'localhost'
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${firstName}`,
      issuer: caCert.subject,
      ...(options.expired
        ? { notBefore: new Date(Date.now() - 30 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }
        : validity(7)),
      signingAlgorithm: SIGN_ALG,
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(altNames),
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey)
      ]
    })
    return { keyPem: privateKeyPem(leafKeys.privateKey), certPem: cert.toString('pem') }
  }

  return { certPem: caCert.toString('pem'), issue }
}
