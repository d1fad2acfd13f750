#!/usr/bin/env node
// Checks electron-builder.yml without packaging or downloading anything:
//   1. validates it with electron-builder's own validateConfiguration (its scheme.json, via ajv), and
//   2. checks that every icon, entitlements file and extra resource it names exists.
//
//   node scripts/validate-builder.mjs [config-file] [--project-dir DIR]
//
// config-file defaults to electron-builder.yml in the project root; relative resource paths resolve against
// --project-dir (default: the config file's folder), as electron-builder resolves them against the project.
// Exit 0 with one line on stdout when valid; exit 1 with the problems on stderr otherwise.
import { existsSync, globSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

// electron-builder's internals live in app-builder-lib, a dependency of electron-builder; resolve it (and its
// own ajv) from there so the versions always match the installed electron-builder.
const requireFromBuilder = createRequire(
  createRequire(import.meta.url).resolve('electron-builder/package.json')
)
const requireFromLib = createRequire(requireFromBuilder.resolve('app-builder-lib/package.json'))

/**
 * Resource options electron-builder looks up relative to directories.buildResources, then the project
 * (PlatformPackager.getResource), grouped by configuration section ('' is the root).
 */
const BUILD_RESOURCE_KEYS = {
  '': ['icon'],
  mac: ['icon', 'entitlements', 'entitlementsInherit', 'entitlementsLoginHelper', 'provisioningProfile'],
  mas: ['icon', 'entitlements', 'entitlementsInherit', 'entitlementsLoginHelper', 'provisioningProfile'],
  masDev: ['icon', 'entitlements', 'entitlementsInherit', 'entitlementsLoginHelper', 'provisioningProfile'],
  win: ['icon'],
  linux: ['icon'],
  nsis: [
    'installerIcon',
    'uninstallerIcon',
    'installerHeader',
    'installerHeaderIcon',
    'installerSidebar',
    'uninstallerSidebar',
    'include',
    'script',
    'license'
  ],
  nsisWeb: ['installerIcon', 'uninstallerIcon', 'installerHeaderIcon', 'include', 'script', 'license'],
  portable: ['splashImage'],
  dmg: ['icon', 'background', 'badgeIcon'],
  pkg: ['welcome', 'conclusion', 'license', 'scripts'],
  appImage: ['license']
}
/** Options resolved relative to the project directory only (FpmTarget). */
const PROJECT_RESOURCE_KEYS = {
  linux: ['afterInstall', 'afterRemove', 'appArmorProfile'],
  deb: ['afterInstall', 'afterRemove', 'appArmorProfile'],
  rpm: ['afterInstall', 'afterRemove'],
  pacman: ['afterInstall', 'afterRemove']
}
/** Sections that may carry extraResources / extraFiles. */
const FILE_SET_SECTIONS = ['', 'mac', 'mas', 'masDev', 'win', 'linux']

function parseArgs(argv) {
  let configFile = null
  let projectDir = null
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--project-dir') {
      projectDir = argv[++i]
      if (!projectDir) throw new Error('--project-dir needs a directory')
    } else if (arg.startsWith('--')) {
      throw new Error(`unknown option ${arg}`)
    } else if (configFile === null) {
      configFile = arg
    } else {
      throw new Error(`unexpected argument ${arg}`)
    }
  }
  configFile = path.resolve(configFile ?? path.join(root, 'electron-builder.yml'))
  return { configFile, projectDir: path.resolve(projectDir ?? path.dirname(configFile)) }
}

const label = (section, key) => (section ? `${section}.${key}` : key)
const hasMacro = (value) => value.includes('${')

/** Turns ajv errors into one line per problem, dropping the noise of failed anyOf branches. */
export function describeSchemaErrors(errors) {
  const composite = new Set(['anyOf', 'oneOf', 'if'])
  const specific = errors.filter((e) => !composite.has(e.keyword))
  const where = (e) =>
    ['configuration', ...e.instancePath.split('/').filter(Boolean)]
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .join('.')
  // A `type` error is a failed alternative ("should be null") when something more specific was reported
  // at the same path or below it.
  const meaningful = specific.filter(
    (e) =>
      e.keyword !== 'type' ||
      !specific.some(
        (other) =>
          other !== e &&
          (other.instancePath.startsWith(`${e.instancePath}/`) ||
            (other.instancePath === e.instancePath && other.keyword !== 'type'))
      )
  )
  const lines = []
  const typesAt = new Map()
  for (const e of meaningful) {
    if (e.keyword === 'type') {
      const entry = typesAt.get(e.instancePath) ?? { at: where(e), types: [], data: e.data }
      entry.types.push(...[e.params.type].flat())
      if (!typesAt.has(e.instancePath)) {
        typesAt.set(e.instancePath, entry)
        lines.push(entry)
      }
    } else if (e.keyword === 'additionalProperties') {
      lines.push(`${where(e)} has an unknown property '${e.params.additionalProperty}'`)
    } else if (e.keyword === 'enum') {
      lines.push(
        `${where(e)} should be one of ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
      )
    } else if (e.keyword === 'required') {
      lines.push(`${where(e)} misses the property '${e.params.missingProperty}'`)
    } else {
      lines.push(`${where(e)} ${e.message}`)
    }
  }
  const unique = lines.map((line) =>
    typeof line === 'string'
      ? line
      : `${line.at} should be ${[...new Set(line.types)].join(' or ')}, found ${JSON.stringify(line.data)}`
  )
  return [...new Set(unique)]
}

/** Lists the files the configuration names that are missing on disk. */
export function findMissingResources(config, projectDir) {
  const problems = []
  const buildResources = path.resolve(projectDir, config.directories?.buildResources ?? 'build')
  const buildResourcesSet = config.directories?.buildResources != null
  if (buildResourcesSet && !(existsSync(buildResources) && statSync(buildResources).isDirectory())) {
    problems.push(
      `directories.buildResources: folder ${path.relative(projectDir, buildResources)} does not exist`
    )
  }
  const sectionOf = (name) => (name === '' ? config : config[name])

  for (const [section, keys] of Object.entries(BUILD_RESOURCE_KEYS)) {
    const options = sectionOf(section)
    if (options == null || typeof options !== 'object') continue
    for (const key of keys) {
      const value = options[key]
      if (typeof value !== 'string' || value.trim() === '' || hasMacro(value)) continue
      const candidates = [path.resolve(buildResources, value), path.resolve(projectDir, value)]
      if (!candidates.some((file) => existsSync(file))) {
        problems.push(
          `${label(section, key)}: ${value} not found in ${path.relative(projectDir, buildResources) || '.'} or the project folder`
        )
      }
    }
  }
  for (const [section, keys] of Object.entries(PROJECT_RESOURCE_KEYS)) {
    const options = sectionOf(section)
    if (options == null || typeof options !== 'object') continue
    for (const key of keys) {
      const value = options[key]
      if (typeof value !== 'string' || hasMacro(value)) continue
      if (!existsSync(path.resolve(projectDir, value)))
        problems.push(`${label(section, key)}: ${value} not found`)
    }
  }
  for (const section of FILE_SET_SECTIONS) {
    const options = sectionOf(section)
    if (options == null || typeof options !== 'object') continue
    for (const key of ['extraResources', 'extraFiles']) {
      const value = options[key]
      if (value == null) continue
      const sets = [value].flat()
      sets.forEach((set, i) => {
        const where = `${label(section, key)}[${i}]`
        if (typeof set === 'string') {
          if (set.startsWith('!') || hasMacro(set)) return
          if (globSync(set, { cwd: projectDir }).length === 0)
            problems.push(`${where}: ${set} matches no file`)
          return
        }
        if (set == null || typeof set !== 'object') return
        // doMergeConfigs turns plain patterns into { filter: [...] } without `from`: the project folder.
        const fromText = typeof set.from === 'string' ? set.from : '.'
        if (hasMacro(fromText)) return
        const from = path.resolve(projectDir, fromText)
        if (!existsSync(from)) {
          problems.push(`${where}.from: ${fromText} not found`)
          return
        }
        const filters = [set.filter ?? []]
          .flat()
          .filter((f) => typeof f === 'string' && !f.startsWith('!') && !hasMacro(f))
        if (statSync(from).isDirectory()) {
          const patterns = filters.length > 0 ? filters : ['**/*']
          if (globSync(patterns, { cwd: from }).length === 0) {
            problems.push(`${where}: no file in ${fromText} matches ${patterns.join(', ')}`)
          }
        }
      })
    }
  }
  return problems
}

/** Packaging-time requirements that live in package.json rather than in the builder config. */
function packageWarnings(config, projectDir) {
  const warnings = []
  const pkgFile = path.join(projectDir, 'package.json')
  if (!existsSync(pkgFile)) return warnings
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'))
  const linuxTargets = [config.linux?.target ?? []]
    .flat()
    .map((t) => (typeof t === 'string' ? t : t?.target))
    .filter(Boolean)
  const fpm = linuxTargets.filter((t) => ['deb', 'rpm', 'pacman', 'freebsd', 'p5p', 'apk'].includes(t))
  if (fpm.length > 0 && pkg.homepage == null && pkg.repository == null) {
    warnings.push(
      `warning: the ${fpm.join('/')} target needs "homepage" (or a GitHub "repository") in package.json`
    )
  }
  if (
    fpm.length > 0 &&
    config.linux?.maintainer == null &&
    config.deb?.maintainer == null &&
    !pkg.author?.email
  ) {
    warnings.push(
      `warning: the ${fpm.join('/')} target needs linux.maintainer or an author email in package.json`
    )
  }
  return warnings
}

async function main() {
  let args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (error) {
    console.error(`validate-builder: ${error.message}`)
    console.error('usage: node scripts/validate-builder.mjs [config-file] [--project-dir DIR]')
    return 2
  }
  const { configFile, projectDir } = args
  const name = path.basename(configFile)
  if (!existsSync(configFile)) {
    console.error(`${name}: file not found (${configFile})`)
    return 1
  }

  const load = requireFromLib('./out/util/config/load.js')
  const { doMergeConfigs, validateConfiguration } = requireFromLib('./out/util/config/config.js')
  const request = { packageKey: 'build', configFilename: 'electron-builder', projectDir }

  let own
  try {
    own = (await load.getConfig(request, configFile)).result
  } catch (error) {
    console.error(`${name} cannot be read: ${error.message}`)
    return 1
  }
  if (own == null || typeof own !== 'object' || Array.isArray(own)) {
    console.error(`${name} must contain a mapping of options`)
    return 1
  }
  const keyCount = Object.keys(own).length

  // `extends` (parent config files) is merged the way electron-builder does; the presets it resolves from
  // package.json (react-cra, electron-webpack) do not apply to this project.
  // Same order as electron-builder's loadParentConfigsRecursively: grandparents before parents.
  const loadParents = async (specs) => {
    const configs = []
    for (const spec of [specs ?? []].flat()) {
      const parent = (await load.loadParentConfig(request, spec)).result
      configs.push(...(await loadParents(parent.extends)), parent)
    }
    return configs
  }
  let parents
  try {
    parents = await loadParents(own.extends)
  } catch (error) {
    console.error(`${name}: extends: ${error.message}`)
    return 1
  }
  const config = doMergeConfigs([...parents, structuredClone(own)])

  const problems = []
  try {
    await validateConfiguration(config, { isEnabled: false, add() {} })
  } catch (error) {
    // electron-builder's message repeats a "How to fix" block per error and, for options that may be null,
    // reports the failed `null` alternative instead of the real mistake; re-run the same schema with the
    // same ajv settings to list each problem on one line. Non-schema errors keep electron-builder's text.
    const Ajv = requireFromLib('ajv').default ?? requireFromLib('ajv')
    const ajv = new Ajv({ allErrors: true, verbose: true, coerceTypes: true, strict: false })
    const validate = ajv.compile(JSON.parse(readFileSync(requireFromLib.resolve('./scheme.json'), 'utf8')))
    const lines = validate(structuredClone(config)) ? [] : describeSchemaErrors(validate.errors ?? [])
    problems.push(...(lines.length > 0 ? lines : [error.message]))
  }
  problems.push(...findMissingResources(config, projectDir))

  if (problems.length > 0) {
    console.error(`${name} is invalid:`)
    for (const problem of problems) console.error(`  - ${problem.replace(/\n/g, '\n    ')}`)
    return 1
  }
  for (const warning of packageWarnings(config, projectDir)) console.error(warning)
  console.log(`${name} is valid (${keyCount} keys)`)
  return 0
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main()
}
