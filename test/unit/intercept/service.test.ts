/**
 * The CA through the service, as a UI calls it (payloads checked by `dispatch`): the first call
 * creates the CA, what it reports matches the file on disk, both exports carry that certificate, and
 * regenerating replaces it.
 */
import { X509Certificate } from 'node:crypto'
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { CertificateAuthorityInfo, FileExport } from '../../../common/ipc-contract.ts'
import type { RuntimeParts } from '../../../main/app/parts.ts'
import { LocalAuthority } from '../../../main/intercept/authority.ts'
import { dispatch } from '../../../main/services/dispatch.ts'
import { createJunctionService } from '../../../main/services/junction-service.ts'

let dataDir: string
let service: ReturnType<typeof createJunctionService>

beforeEach(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'junction-ca-service-'))
  // The CA methods read only the authority from the runtime's parts.
  service = createJunctionService({ authority: LocalAuthority.open(dataDir) } as unknown as RuntimeParts)
})
afterEach(async () => {
  await fs.rm(dataDir, { recursive: true, force: true })
})

async function call<T>(method: string, ...args: unknown[]): Promise<T> {
  const result = await dispatch(service, method, args)
  if (!result.ok) throw new Error(result.error.message)
  return result.value as T
}

describe('the certificate authority through the service', () => {
  it('creates the CA on first request and describes the certificate on disk', async () => {
    const pemPath = path.join(dataDir, 'ca', 'junction-ca.pem')
    expect(existsSync(pemPath)).toBe(false)
    const info = await call<CertificateAuthorityInfo>('getCertificateAuthority')
    const pem = await fs.readFile(pemPath, 'utf8')
    const onDisk = new X509Certificate(pem)
    expect(info).toMatchObject({
      subject: onDisk.subject,
      fingerprintSha256: onDisk.fingerprint256,
      notAfter: new Date(onDisk.validTo).toISOString(),
      pemPath,
      pem,
      unavailable: null
    })
    expect(info.spkiSha256Base64).toMatch(/^[A-Za-z0-9+/]{43}=$/)
  })

  it('exports the PEM file’s bytes and the same certificate as DER', async () => {
    const pemFile = await call<FileExport>('exportCertificateAuthority', 'pem')
    expect(pemFile.fileName).toBe('junction-ca.pem')
    const onDisk = await fs.readFile(path.join(dataDir, 'ca', 'junction-ca.pem'))
    expect(Buffer.from(pemFile.base64, 'base64').equals(onDisk)).toBe(true)
    const derFile = await call<FileExport>('exportCertificateAuthority', 'der')
    expect(derFile.fileName).toBe('junction-ca.cer')
    expect(Buffer.from(derFile.base64, 'base64').equals(new X509Certificate(onDisk).raw)).toBe(true)
  })

  it('regenerates: the new fingerprint is the one on disk', async () => {
    const before = await call<CertificateAuthorityInfo>('getCertificateAuthority')
    const after = await call<CertificateAuthorityInfo>('regenerateCertificateAuthority')
    expect(after.fingerprintSha256).not.toBe(before.fingerprintSha256)
    const onDisk = new X509Certificate(await fs.readFile(path.join(dataDir, 'ca', 'junction-ca.pem')))
    expect(onDisk.fingerprint256).toBe(after.fingerprintSha256)
  })

  it('reports a CA directory it cannot write as an io-error', async () => {
    await fs.writeFile(path.join(dataDir, 'ca'), 'a file where the folder should be')
    const result = await dispatch(service, 'getCertificateAuthority', [])
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'io-error', message: expect.stringContaining('is not usable') }
    })
  })
})
