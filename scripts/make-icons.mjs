#!/usr/bin/env node
// Rasterises the SVG sources in resources/ into the committed PNG, ICO and ICNS icons.
//
//   node scripts/make-icons.mjs           write every icon
//   node scripts/make-icons.mjs --check   exit 1 if a committed icon differs from what would be written
//
// Rendering uses @resvg/resvg-wasm (WebAssembly, no native addon); the ICO and ICNS containers are
// assembled here. The output is deterministic, so re-running without SVG changes rewrites identical files.
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { initWasm, Resvg } from '@resvg/resvg-wasm'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

/** ICO entry sizes. Every entry is a PNG stream (Windows Vista and later, NSIS 3, resedit all accept them). */
export const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256]

/**
 * ICNS entries with PNG payloads (macOS 10.7+): OSType → pixel size.
 * ic11–ic14 are the @2x variants of 16, 32, 128 and 256 pt.
 */
export const ICNS_TYPES = [
  ['ic07', 128],
  ['ic08', 256],
  ['ic09', 512],
  ['ic10', 1024],
  ['ic11', 32],
  ['ic12', 64],
  ['ic13', 256],
  ['ic14', 512]
]

const APP_SVG = 'resources/icon.svg'
const TRAY_SOURCES = [
  // [source SVG, output base name]; each is written at 16 px (name.png) and 32 px (name@2x.png).
  ['resources/tray-src/tray-on.svg', 'tray-on'],
  ['resources/tray-src/tray-off.svg', 'tray-off'],
  ['resources/tray-src/trayTemplate-on.svg', 'trayTemplate-on'],
  ['resources/tray-src/trayTemplate-off.svg', 'trayTemplate-off']
]

/** Renders an SVG document to a square PNG of `size` pixels. */
function renderPng(svg, size) {
  const resvg = new Resvg(svg, { fitTo: { mode: 'width', value: size } })
  const image = resvg.render()
  if (image.width !== size || image.height !== size) {
    throw new Error(`rendered ${image.width}×${image.height}, expected ${size}×${size} (is the SVG square?)`)
  }
  const png = Buffer.from(image.asPng())
  image.free()
  resvg.free()
  return png
}

/** ICO: 6-byte ICONDIR, one 16-byte ICONDIRENTRY per image, then the PNG streams back to back. */
export function buildIco(images) {
  const header = Buffer.alloc(6 + images.length * 16)
  header.writeUInt16LE(0, 0) // reserved
  header.writeUInt16LE(1, 2) // type 1 = icon
  header.writeUInt16LE(images.length, 4)
  let offset = header.length
  images.forEach(({ size, png }, i) => {
    const entry = 6 + i * 16
    header.writeUInt8(size >= 256 ? 0 : size, entry) // width, 0 means 256
    header.writeUInt8(size >= 256 ? 0 : size, entry + 1) // height
    header.writeUInt8(0, entry + 2) // palette colours
    header.writeUInt8(0, entry + 3) // reserved
    header.writeUInt16LE(1, entry + 4) // colour planes
    header.writeUInt16LE(32, entry + 6) // bits per pixel
    header.writeUInt32LE(png.length, entry + 8)
    header.writeUInt32LE(offset, entry + 12)
    offset += png.length
  })
  return Buffer.concat([header, ...images.map((image) => image.png)])
}

/** ICNS: 'icns' + total length (big-endian), then entries of OSType + entry length (incl. 8-byte header) + data. */
export function buildIcns(entries) {
  const parts = entries.map(({ type, png }) => {
    const head = Buffer.alloc(8)
    head.write(type, 0, 'latin1')
    head.writeUInt32BE(png.length + 8, 4)
    return Buffer.concat([head, png])
  })
  const body = Buffer.concat(parts)
  const head = Buffer.alloc(8)
  head.write('icns', 0, 'latin1')
  head.writeUInt32BE(body.length + 8, 4)
  return Buffer.concat([head, body])
}

async function main() {
  const check = process.argv.includes('--check')
  await initWasm(await readFile(require.resolve('@resvg/resvg-wasm/index_bg.wasm')))

  /** @type {Map<string, Buffer>} output path (relative to the project) → contents */
  const outputs = new Map()

  const appSvg = await readFile(path.join(root, APP_SVG), 'utf8')
  const cache = new Map()
  const appPng = (size) => {
    if (!cache.has(size)) cache.set(size, renderPng(appSvg, size))
    return cache.get(size)
  }
  outputs.set('resources/icon.png', appPng(512))
  outputs.set('resources/build/icon.png', appPng(512))
  outputs.set('resources/build/icon.ico', buildIco(ICO_SIZES.map((size) => ({ size, png: appPng(size) }))))
  outputs.set(
    'resources/build/icon.icns',
    buildIcns(ICNS_TYPES.map(([type, size]) => ({ type, png: appPng(size) })))
  )

  for (const [source, name] of TRAY_SOURCES) {
    const svg = await readFile(path.join(root, source), 'utf8')
    outputs.set(`resources/tray/${name}.png`, renderPng(svg, 16))
    outputs.set(`resources/tray/${name}@2x.png`, renderPng(svg, 32))
  }

  const stale = []
  for (const [file, data] of outputs) {
    const target = path.join(root, file)
    if (check) {
      const current = await readFile(target).catch(() => null)
      if (current === null || !current.equals(data)) stale.push(file)
      continue
    }
    await mkdir(path.dirname(target), { recursive: true })
    await writeFile(target, data)
  }
  if (check) {
    if (stale.length > 0) {
      console.error(`Icons out of date (run node scripts/make-icons.mjs): ${stale.join(', ')}`)
      process.exitCode = 1
    } else {
      console.log(`All ${outputs.size} icons are up to date.`)
    }
  } else {
    console.log(`Wrote ${outputs.size} icons.`)
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main()
}
