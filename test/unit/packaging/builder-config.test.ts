import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { crc32, inflateSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../../..')
const CONFIG = path.join(ROOT, 'electron-builder.yml')
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

const run = promisify(execFile)
const file = (relative: string) => readFileSync(path.join(ROOT, relative))

interface ScriptResult {
  code: number
  stdout: string
  stderr: string
}

async function runScript(script: string, args: string[]): Promise<ScriptResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'scripts', script), ...args], {
      cwd: ROOT
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string }
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' }
  }
}

/** js-yaml as electron-builder loads it (a dependency of app-builder-lib). */
function loadYaml(text: string): unknown {
  const fromBuilder = createRequire(createRequire(import.meta.url).resolve('electron-builder/package.json'))
  const yaml = createRequire(fromBuilder.resolve('app-builder-lib/package.json'))('js-yaml') as {
    load(text: string): unknown
  }
  return yaml.load(text)
}

interface Png {
  width: number
  height: number
  colorType: number
  bitDepth: number
  /** RGBA, 4 bytes per pixel, row by row (only for 8-bit RGBA images). */
  pixels: Buffer
}

/** A minimal PNG reader: checks the signature, chunk framing and CRCs; decodes 8-bit RGBA images. */
function readPng(data: Buffer): Png {
  expect(data.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true)
  let offset = 8
  let header: Omit<Png, 'pixels'> | null = null
  const idat: Buffer[] = []
  let ended = false
  while (offset < data.length) {
    const length = data.readUInt32BE(offset)
    const type = data.toString('latin1', offset + 4, offset + 8)
    const body = data.subarray(offset + 8, offset + 8 + length)
    expect(data.readUInt32BE(offset + 8 + length), `${type} CRC`).toBe(
      crc32(data.subarray(offset + 4, offset + 8 + length))
    )
    if (type === 'IHDR') {
      header = {
        width: body.readUInt32BE(0),
        height: body.readUInt32BE(4),
        bitDepth: body.readUInt8(8),
        colorType: body.readUInt8(9)
      }
      expect(body.readUInt8(12)).toBe(0) // not interlaced
    } else if (type === 'IDAT') {
      idat.push(body)
    } else if (type === 'IEND') {
      ended = true
    }
    offset += 12 + length
  }
  expect(offset).toBe(data.length)
  expect(ended).toBe(true)
  if (header === null) throw new Error('PNG without IHDR')
  if (header.colorType !== 6 || header.bitDepth !== 8) return { ...header, pixels: Buffer.alloc(0) }

  const raw = inflateSync(Buffer.concat(idat))
  const stride = header.width * 4
  const pixels = Buffer.alloc(stride * header.height)
  for (let y = 0; y < header.height; y++) {
    const filter = raw[y * (stride + 1)]
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    for (let x = 0; x < stride; x++) {
      const a = x >= 4 ? pixels[y * stride + x - 4]! : 0
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0
      const c = x >= 4 && y > 0 ? pixels[(y - 1) * stride + x - 4]! : 0
      let predictor = 0
      if (filter === 1) predictor = a
      else if (filter === 2) predictor = b
      else if (filter === 3) predictor = (a + b) >> 1
      else if (filter === 4) {
        const p = a + b - c
        const pa = Math.abs(p - a)
        const pb = Math.abs(p - b)
        const pc = Math.abs(p - c)
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
      } else expect(filter).toBe(0)
      pixels[y * stride + x] = (line[x]! + predictor) & 0xff
    }
  }
  return { ...header, pixels }
}

function* rgba(png: Png): Generator<[number, number, number, number]> {
  for (let i = 0; i < png.pixels.length; i += 4) {
    yield [png.pixels[i]!, png.pixels[i + 1]!, png.pixels[i + 2]!, png.pixels[i + 3]!]
  }
}

/** Sum of alpha over the image, as a share of a fully opaque image. */
function coverage(png: Png): number {
  let total = 0
  for (const [, , , a] of rgba(png)) total += a
  return total / (png.width * png.height * 255)
}

describe('app icons', () => {
  it('icon.png files are 512×512 RGBA PNGs', () => {
    for (const name of ['resources/icon.png', 'resources/build/icon.png']) {
      const png = readPng(file(name))
      expect([png.width, png.height, png.colorType], name).toEqual([512, 512, 6])
    }
  })

  it('icon.ico: header, directory and PNG-compressed entries 16–256 px', () => {
    const ico = file('resources/build/icon.ico')
    expect(ico.readUInt16LE(0)).toBe(0) // reserved
    expect(ico.readUInt16LE(2)).toBe(1) // icon, not cursor
    const count = ico.readUInt16LE(4)
    expect(count).toBe(7)

    let expectedOffset = 6 + count * 16
    const sizes: number[] = []
    for (let i = 0; i < count; i++) {
      const entry = 6 + i * 16
      const width = ico.readUInt8(entry) || 256
      const height = ico.readUInt8(entry + 1) || 256
      expect(ico.readUInt8(entry + 3)).toBe(0) // reserved
      expect(ico.readUInt16LE(entry + 4)).toBe(1) // planes
      expect(ico.readUInt16LE(entry + 6)).toBe(32) // bits per pixel
      const length = ico.readUInt32LE(entry + 8)
      const offset = ico.readUInt32LE(entry + 12)
      expect(offset).toBe(expectedOffset) // payloads are contiguous, in directory order, no overlap
      const png = readPng(ico.subarray(offset, offset + length))
      expect([png.width, png.height]).toEqual([width, height])
      expect(width).toBe(height)
      sizes.push(width)
      expectedOffset = offset + length
    }
    expect(expectedOffset).toBe(ico.length)
    expect(sizes).toEqual([16, 24, 32, 48, 64, 128, 256])
  })

  it('icon.icns: header and PNG entries for every required size', () => {
    const icns = file('resources/build/icon.icns')
    expect(icns.toString('latin1', 0, 4)).toBe('icns')
    expect(icns.readUInt32BE(4)).toBe(icns.length)

    const entries = new Map<string, number>()
    let offset = 8
    while (offset < icns.length) {
      const type = icns.toString('latin1', offset, offset + 4)
      const length = icns.readUInt32BE(offset + 4)
      expect(length).toBeGreaterThan(8)
      expect(offset + length).toBeLessThanOrEqual(icns.length)
      const png = readPng(icns.subarray(offset + 8, offset + length))
      expect(png.width).toBe(png.height)
      expect(entries.has(type), `duplicate ${type}`).toBe(false)
      entries.set(type, png.width)
      offset += length
    }
    expect(offset).toBe(icns.length)
    expect(Object.fromEntries(entries)).toEqual({
      ic07: 128,
      ic08: 256,
      ic09: 512,
      ic10: 1024,
      ic11: 32,
      ic12: 64,
      ic13: 256,
      ic14: 512
    })
  })
})

describe('tray icons', () => {
  const names = ['tray-on', 'tray-off', 'trayTemplate-on', 'trayTemplate-off']

  it.each(names)('%s: 16 px and 32 px @2x RGBA PNGs', (name) => {
    const normal = readPng(file(`resources/tray/${name}.png`))
    const retina = readPng(file(`resources/tray/${name}@2x.png`))
    expect([normal.width, normal.height, normal.colorType]).toEqual([16, 16, 6])
    expect([retina.width, retina.height, retina.colorType]).toEqual([32, 32, 6])
  })

  it.each(['trayTemplate-on', 'trayTemplate-off'])(
    '%s is black + alpha only (macOS template image)',
    (name) => {
      for (const suffix of ['', '@2x']) {
        const png = readPng(file(`resources/tray/${name}${suffix}.png`))
        const coloured = [...rgba(png)].filter(([r, g, b, a]) => a > 0 && (r !== 0 || g !== 0 || b !== 0))
        expect(coloured, `${name}${suffix}.png`).toEqual([])
        expect(coverage(png)).toBeGreaterThan(0.1)
      }
    }
  )

  it('on and off look different: filled vs outlined', () => {
    for (const [on, off] of [
      ['tray-on', 'tray-off'],
      ['trayTemplate-on', 'trayTemplate-off']
    ] as const) {
      for (const suffix of ['', '@2x']) {
        const filled = coverage(readPng(file(`resources/tray/${on}${suffix}.png`)))
        const outlined = coverage(readPng(file(`resources/tray/${off}${suffix}.png`)))
        expect(filled, `${on}${suffix}`).toBeGreaterThan(0.6)
        expect(outlined, `${off}${suffix}`).toBeLessThan(0.5)
      }
    }
  })

  it('tray-on is in colour, tray-off is grey', () => {
    const saturation = ([r, g, b]: [number, number, number, number]) => Math.max(r, g, b) - Math.min(r, g, b)
    const on = [...rgba(readPng(file('resources/tray/tray-on@2x.png')))].filter(([, , , a]) => a === 255)
    const off = [...rgba(readPng(file('resources/tray/tray-off@2x.png')))].filter(([, , , a]) => a > 0)
    expect(Math.max(...on.map(saturation))).toBeGreaterThan(100)
    expect(Math.max(...off.map(saturation))).toBeLessThan(24)
  })

  it('the committed icons match their SVG sources (make-icons --check)', async () => {
    const result = await runScript('make-icons.mjs', ['--check'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })
})

describe('electron-builder.yml', () => {
  const config = loadYaml(readFileSync(CONFIG, 'utf8')) as Record<string, Record<string, unknown>>

  it('identity, packaging and fuses', () => {
    expect(config.appId).toBe('app.junction.desktop')
    expect(config.productName).toBe('Junction')
    expect(config.asar).toBe(true)
    expect(config.files).toEqual(['out/**', 'package.json'])
    expect(config.directories).toEqual({ buildResources: 'resources/build', output: 'dist' })
    expect(config.extraResources).toEqual([{ from: 'resources/tray', to: 'tray', filter: ['*.png'] }])
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true
    })
  })

  it('Windows: per-user assisted NSIS installer and portable', () => {
    expect(config.win?.target).toEqual(['nsis', 'portable'])
    expect(config.nsis).toMatchObject({
      oneClick: false,
      perMachine: false,
      allowToChangeInstallationDirectory: true
    })
    // The two .exe artifacts must not collide.
    expect(config.nsis?.artifactName).not.toBe(config.portable?.artifactName)
  })

  it('macOS: dmg for x64 and arm64, hardened runtime with minimal entitlements', () => {
    expect(config.mac).toMatchObject({
      target: [{ target: 'dmg', arch: ['x64', 'arm64'] }],
      category: 'public.app-category.utilities',
      hardenedRuntime: true,
      entitlements: 'entitlements.mac.plist',
      entitlementsInherit: 'entitlements.mac.plist'
    })
    const plist = file('resources/build/entitlements.mac.plist').toString('utf8')
    expect(plist).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE plist /)
    expect([...plist.matchAll(/<key>([^<]+)<\/key>\s*<true\/>/g)].map((m) => m[1])).toEqual([
      'com.apple.security.cs.allow-jit'
    ])
  })

  it('Linux: AppImage and deb with a desktop entry', () => {
    expect(config.linux).toMatchObject({
      target: ['AppImage', 'deb'],
      category: 'Network',
      synopsis: expect.any(String),
      maintainer: expect.stringMatching(/^.+ <[^@\s]+@[^@\s]+>$/),
      desktop: {
        entry: { Name: 'Junction', Comment: expect.stringMatching(/\S/), Categories: 'Network;' }
      }
    })
  })
})

describe.concurrent('scripts/validate-builder.mjs', () => {
  const temp = mkdtempSync(path.join(tmpdir(), 'junction-builder-'))
  afterAll(() => rmSync(temp, { recursive: true, force: true }))
  const original = readFileSync(CONFIG, 'utf8')
  const brokenCopy = (name: string, from: string, to: string) => {
    expect(original).toContain(from)
    const target = path.join(temp, name)
    writeFileSync(target, original.replace(from, to))
    return target
  }

  it('accepts the real configuration', async () => {
    const result = await runScript('validate-builder.mjs', [])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^electron-builder\.yml is valid \(\d+ keys\)\n$/)
    const keys = Object.keys(loadYaml(original) as object).length
    expect(result.stdout).toContain(`(${keys} keys)`)
  })

  it('rejects a schema violation and names the option', async () => {
    const broken = brokenCopy('electron-builder.yml', '  oneClick: false', "  oneClick: 'maybe'")
    const result = await runScript('validate-builder.mjs', [broken, '--project-dir', ROOT])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('electron-builder.yml is invalid')
    expect(result.stderr).toContain('nsis.oneClick should be boolean, found "maybe"')
  })

  it('rejects an unknown option', async () => {
    const broken = brokenCopy(
      'unknown.yml',
      '  hardenedRuntime: true',
      '  hardenedRuntime: true\n  hardendRuntime: true'
    )
    const result = await runScript('validate-builder.mjs', [broken, '--project-dir', ROOT])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("configuration.mac has an unknown property 'hardendRuntime'")
  })

  it('rejects references to missing files', async () => {
    const broken = brokenCopy('missing.yml', '  icon: icon.ico', '  icon: junction.ico')
    const result = await runScript('validate-builder.mjs', [broken, '--project-dir', ROOT])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('win.icon: junction.ico not found')
  })

  it('checks extra resources against the project folder', async () => {
    const copy = path.join(temp, 'elsewhere.yml')
    writeFileSync(copy, original)
    const result = await runScript('validate-builder.mjs', [copy])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('extraResources[0].from: resources/tray not found')
    expect(result.stderr).toContain('mac.entitlements: entitlements.mac.plist not found')
  })
})
