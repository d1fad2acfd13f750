/**
 * The one implementation of the UI contract (`AppApi`), on top of the running engine, the stores,
 * statistics and the system proxy. The runtime builds it once; Electron IPC and the headless
 * dashboard call it through `dispatch`, which validates every payload first, and the tray calls it
 * directly. Never imports Electron.
 */
import { findChromium, launchChromium } from '../intercept/chromium-launch.ts'
import {
  SECRET_PLACEHOLDER,
  TRAFFIC_RANGE_MS,
  type AppApi,
  type CertificateAuthorityInfo,
  type RunOverrides,
  type TrafficShare,
  type UpstreamTestResult
} from '../../common/ipc-contract.ts'
import { matchesShown, shownRequest } from '../../common/display-text.ts'
import {
  DIRECT_PROFILE,
  SettingsSchema,
  type NamedRequestLogEntry,
  type Profile,
  type RequestLogEntry,
  type Rule,
  type Settings
} from '../../common/model.ts'
import { fail, ok, type Result } from '../../common/result.ts'
import type { RuntimeParts } from '../app/parts.ts'
import { CA_CERT_FILE, type LocalAuthority } from '../intercept/authority.ts'
import { explain } from '../rules/explain.ts'
import { insertRules, placeRules, removeRules, replaceRule, setRulesEnabled } from '../rules/rule-edits.ts'
import { parseProfile } from '../rules/validate.ts'
import { historyName } from '../stats/display-names.ts'
import { buildBackup } from '../transfer/backup.ts'
import { buildProfilePac } from '../transfer/export-pac.ts'
import { buildSquidConfig } from '../transfer/export-squid.ts'
import { readImportInWorker } from '../transfer/read-in-worker.ts'
import { asMeasurement, testUpstream } from './upstream-test.ts'
import { describeGroups } from '../engine/groups.ts'
import { measureAll } from '../engine/upstream-health.ts'

/** What a per-rule edit answers: the new rule count, never the list (it may hold 100,000 rules). */
const counted = (changed: Result<{ rules: Rule[] }>): Result<{ ruleCount: number }> =>
  changed.ok ? ok({ ruleCount: changed.value.rules.length }) : changed

/** Replaces upstream passwords with a placeholder: they never travel to the UI. */
export function maskSecrets(profile: Profile): Profile {
  return {
    ...profile,
    upstreams: profile.upstreams.map((u) => (u.password ? { ...u, password: SECRET_PLACEHOLDER } : u))
  }
}

function maskSettings(value: Settings): Settings {
  return value.proxyAuth
    ? { ...value, proxyAuth: { ...value.proxyAuth, password: SECRET_PLACEHOLDER } }
    : value
}

/** Puts stored passwords back where the UI sent the placeholder. */
function unmaskSecrets(incoming: Profile, stored: Profile | undefined): Result<Profile> {
  const upstreams = []
  for (const upstream of incoming.upstreams) {
    if (upstream.password !== SECRET_PLACEHOLDER) {
      upstreams.push(upstream)
      continue
    }
    const previous = stored?.upstreams.find((u) => u.id === upstream.id)?.password
    if (previous === undefined)
      return fail('invalid-input', `Upstream "${upstream.name}" has no saved password; enter the password`)
    upstreams.push({ ...upstream, password: previous })
  }
  return ok({ ...incoming, upstreams })
}

function authorityInfo(authority: LocalAuthority): CertificateAuthorityInfo {
  return {
    subject: authority.subject,
    fingerprintSha256: authority.fingerprintSha256,
    spkiSha256Base64: authority.spkiSha256Base64,
    notAfter: authority.notAfter.toISOString(),
    pemPath: authority.pemPath,
    pem: authority.certificatePem,
    unavailable: authority.unavailable
  }
}

/** Runs a CA operation; a failure to read or write its files comes back as an `io-error`. */
async function withAuthority<T>(authority: LocalAuthority, run: () => Promise<T>): Promise<Result<T>> {
  try {
    await authority.ensure()
    return ok(await run())
  } catch (error) {
    return fail(
      'io-error',
      `The certificate authority in ${authority.dir} is not usable: ${(error as Error).message}`
    )
  }
}

export interface ServiceHooks {
  /** Runs after every saved settings change (the desktop applies start at login here). */
  onSettingsChanged?: ((settings: Settings) => void) | undefined
  /** This run's command-line overrides, for Settings to show next to the saved values. */
  overrides?: RunOverrides | undefined
}

export function createJunctionService(parts: RuntimeParts, hooks: ServiceHooks = {}): AppApi {
  const {
    engine,
    profiles,
    settings,
    stats,
    history,
    ring,
    names,
    systemProxy,
    authority,
    exchanges,
    ruleHits
  } = parts
  const { sharedPorts } = parts

  /** The newest `limit` log entries with names, only those showing every word of `filter` when set. */
  function requestLog(limit: number, filter: string): NamedRequestLogEntry[] {
    const named = (entry: RequestLogEntry): NamedRequestLogEntry => ({
      ...entry,
      ...names(entry.profileId, entry.ruleId, entry.route)
    })
    if (!filter) return ring.list(limit).map(named)
    // A filter searches the whole ring (5,000 entries, newest first), not only the entries shown.
    const out: NamedRequestLogEntry[] = []
    for (const entry of ring.list()) {
      if (out.length >= limit) break
      const shown = named(entry)
      if (matchesShown(shownRequest(shown), filter)) out.push(shown)
    }
    return out
  }

  /** Every settings write goes through here, so the hook sees changes from any method. */
  async function saveSettings(patch: Parameters<typeof settings.update>[0]): Promise<Result<Settings>> {
    const saved = await settings.update(patch)
    if (saved.ok) hooks.onSettingsChanged?.(saved.value)
    return saved
  }

  async function activate(profile: Profile): Promise<Result<void>> {
    const saved = await saveSettings({ activeProfileId: profile.id })
    if (!saved.ok) return saved
    engine.applyProfile(profile)
    return ok(undefined)
  }

  /**
   * Saves a per-rule edit: `edit` checks only the rules it brings in, the profile is written once, and
   * the engine takes the new list if the profile is active.
   */
  async function changeRules<T extends { rules: Rule[] }>(
    profileId: string,
    edit: (profile: Profile) => Result<T>
  ): Promise<Result<T>> {
    const profile = profiles.get(profileId)
    if (!profile) return fail('not-found', `No profile with id "${profileId}"`)
    // Said before the edit is checked: Direct's answer is the same whatever the edit.
    if (profile.id === DIRECT_PROFILE.id)
      return fail('read-only', 'The built-in Direct profile has no rules to change')
    const edited = edit(profile)
    if (!edited.ok) return edited
    const saved = await profiles.putRules(profileId, edited.value.rules)
    if (!saved.ok) return saved
    if (engine.profile.id === profileId) engine.applyProfile(saved.value)
    return edited
  }

  return {
    getEngineState: async () => ok(engine.state),

    listProfiles: async () => ok(profiles.list().map(maskSecrets)),

    async saveProfile(input) {
      const unmasked = unmaskSecrets(input, profiles.get(input.id))
      if (!unmasked.ok) return unmasked
      const saved = await profiles.put(unmasked.value)
      if (!saved.ok) return saved
      if (engine.profile.id === saved.value.id) engine.applyProfile(saved.value)
      await sharedPorts.follow(saved.value.id, saved.value)
      return ok(maskSecrets(saved.value))
    },

    async deleteProfile(id) {
      if (engine.profile.id === id) {
        const switched = await activate(DIRECT_PROFILE)
        if (!switched.ok) return switched
      }
      const removed = await profiles.remove(id)
      if (removed.ok) await sharedPorts.follow(id, undefined)
      if (removed.ok) ruleHits.forget(id)
      return removed
    },

    async setActiveProfile(id, options) {
      const profile = profiles.get(id)
      if (!profile) return fail('not-found', `No profile with id "${id}"`)
      const previous = engine.profile.id
      const switched = await activate(profile)
      if (!switched.ok) return switched
      if (options?.closeConnections && previous !== id) stats.closeProfile(previous, 'profile switched')
      return ok(engine.state)
    },

    async explain(profileId, url, method) {
      const profile = profiles.get(profileId)
      if (!profile) return fail('not-found', `No profile with id "${profileId}"`)
      try {
        return ok(explain(profile, url, undefined, method))
      } catch (error) {
        return fail('invalid-input', `Cannot explain "${url}": ${(error as Error).message}`)
      }
    },

    async testUpstream(profileId, upstream, url) {
      const restored = unmaskSecrets(
        { ...DIRECT_PROFILE, id: profileId, upstreams: [upstream] },
        profiles.get(profileId)
      )
      if (!restored.ok) return restored
      try {
        const others = profiles.get(profileId)?.upstreams ?? []
        return ok(await testUpstream(restored.value.upstreams[0]!, url, undefined, others))
      } catch (error) {
        return fail('invalid-input', `Cannot test "${url}": ${(error as Error).message}`)
      }
    },

    getSettings: async () => ok(maskSettings(settings.get())),

    async updateSettings(input) {
      // The UI sends the placeholder back for an unchanged proxy password.
      const current = settings.get().proxyAuth
      const patch =
        input.proxyAuth?.password === SECRET_PLACEHOLDER && current
          ? { ...input, proxyAuth: { ...input.proxyAuth, password: current.password } }
          : input
      const saved = await saveSettings(patch)
      if (!saved.ok) return saved
      if (patch.systemProxy) {
        const applied = await systemProxy.setMode(saved.value.systemProxy.mode)
        if (!applied.ok) return applied
      }
      return ok(maskSettings(saved.value))
    },

    getSystemProxy: async () => ok(systemProxy.status()),

    async setSystemProxy(mode) {
      const applied = await systemProxy.setMode(mode)
      if (!applied.ok) return applied
      const current = settings.get().systemProxy
      const saved = await saveSettings({ systemProxy: { ...current, mode } })
      return saved.ok ? applied : saved
    },

    async shellCommands() {
      const commands = systemProxy.shellCommands()
      return commands ? ok(commands) : fail('engine-error', 'The proxy is not running')
    },

    getStats: async () => ok(stats.snapshot),

    getRequestLog: async ({ limit, filter }) => ok(requestLog(limit, filter?.trim() ?? '')),

    topHosts: async ({ from, to, limit }) => ok(history.topHosts(from, to, limit)),

    historySeries: async ({ from, to, kind, name }) => ok(history.series(kind, name, from, to)),

    exportHistoryCsv: async ({ from, to }) => {
      const list = profiles.list()
      return ok(history.toCsv(from, to, (kind, id) => historyName(list, kind, id)))
    },

    listConnections: async ({ offset, limit, filter, sort }) =>
      ok(stats.connections(offset, limit, filter, sort)),

    closeConnection: async (id) => ok(stats.closeConnection(id)),

    closeConnections: async (filter) => ok(stats.closeMatching(filter)),

    closeProfileConnections: async (profileId) => ok(stats.closeProfile(profileId)),

    // Like upstream passwords, the proxy's own credentials stay out of exports.
    exportConfig: async () => ok(buildBackup(profiles.list(), settings.get(), false)),

    async importConfig(json) {
      let doc: { format?: unknown; settings?: unknown; profiles?: unknown }
      try {
        doc = JSON.parse(json) as typeof doc
      } catch (error) {
        return fail('invalid-input', `The file is not valid JSON: ${(error as Error).message}`)
      }
      if (doc?.format !== 'junction-config' || !Array.isArray(doc.profiles))
        return fail('invalid-input', 'This is not a Junction configuration export')
      // Check everything before writing anything: an import applies whole or not at all.
      const parsed: Profile[] = []
      const details: string[] = []
      for (const raw of doc.profiles) {
        const result = parseProfile(raw)
        if (result.ok) parsed.push(result.value)
        else details.push(...(result.error.details ?? [result.error.message]))
      }
      const importedSettings = SettingsSchema.partial().safeParse(doc.settings ?? {})
      if (!importedSettings.success) details.push(`settings: ${importedSettings.error.issues[0]?.message}`)
      if (details.length > 0) return fail('invalid-input', `Nothing was imported: ${details[0]}`, details)
      for (const profile of parsed) {
        // Exports carry no passwords: keep the ones already saved for the same upstreams.
        const stored = profiles.get(profile.id)
        const upstreams = profile.upstreams.map((u) => {
          const password = u.password ?? stored?.upstreams.find((s) => s.id === u.id)?.password
          return password === undefined ? u : { ...u, password }
        })
        const saved = await profiles.put({ ...profile, upstreams })
        if (!saved.ok) return saved
        await sharedPorts.follow(saved.value.id, saved.value)
      }
      if (importedSettings.success) {
        const { activeProfileId: _ignored, ...rest } = importedSettings.data
        const saved = await saveSettings(rest)
        if (!saved.ok) return saved
      }
      return ok({ profiles: parsed.length })
    },

    getCertificateAuthority: () => withAuthority(authority, async () => authorityInfo(authority)),

    regenerateCertificateAuthority: () =>
      withAuthority(authority, async () => {
        await authority.regenerate()
        return authorityInfo(authority)
      }),

    exportCertificateAuthority: (format) =>
      withAuthority(authority, async () =>
        format === 'pem'
          ? { fileName: CA_CERT_FILE, base64: Buffer.from(authority.certificatePem).toString('base64') }
          : // .cer: the name Windows, macOS and Android open as a certificate to install.
            { fileName: 'junction-ca.cer', base64: authority.certificateDer.toString('base64') }
      ),

    async launchChromium() {
      const state = engine.state
      if (state.status !== 'running')
        return fail('engine-error', 'Start the proxy first: Chromium is pointed at it')
      const browser = findChromium()
      if (!browser)
        return fail(
          'not-found',
          'No Chromium or Chrome was found; install one, or set JUNCTION_CHROMIUM to its executable'
        )
      return withAuthority(authority, async () =>
        launchChromium(browser, state.port, authority.spkiSha256Base64)
      )
    },

    async listExchanges(query) {
      const { total, rows } = exchanges.list(query)
      return ok({
        total,
        rows: rows.map((row) => ({ ...row, ...names(row.profileId, row.ruleId, row.route) }))
      })
    },

    async exchangeDetail(id) {
      const detail = await exchanges.detail(id)
      if (!detail) return fail('not-found', `Exchange #${id} is no longer kept`)
      return ok({ ...detail, ...names(detail.profileId, detail.ruleId, detail.route) })
    },

    async exchangeAsCurl(id) {
      const command = exchanges.asCurl(id)
      return command === null ? fail('not-found', `Exchange #${id} is no longer kept`) : ok(command)
    },

    clearExchanges: async () => ok(exchanges.clear()),

    setInspectRecording: async (on) => ok(exchanges.setRecording(on)),

    inspectState: async () => ok(exchanges.state()),

    // The dashboard server answers this itself (it holds the token); the desktop window has no token.
    rotateDashboardToken: async () =>
      fail('not-found', 'The dashboard token can be changed only from the headless dashboard'),

    getRunOverrides: async () => ok(hooks.overrides ?? { port: null }),

    async trafficRates({ range }) {
      const to = Date.now()
      const from = to - TRAFFIC_RANGE_MS[range]
      if (range === '5m') return ok({ from, to, step: 1000, points: stats.recentRates(from) })
      return ok({ from, to, ...history.rates(from, to) })
    },

    async trafficBreakdown({ range, kind, limit }) {
      const to = Date.now()
      if (kind === 'host') return ok(history.totals(kind, to - TRAFFIC_RANGE_MS[range], to).slice(0, limit))
      // Profiles deleted since share one name; their bytes are summed under it.
      const list = profiles.list()
      const named = new Map<string, TrafficShare>()
      for (const { name: id, up, down } of history.totals(kind, to - TRAFFIC_RANGE_MS[range], to)) {
        const name = historyName(list, 'profile', id)
        const share = named.get(name)
        if (share) {
          share.up += up
          share.down += down
        } else named.set(name, { name, up, down })
      }
      return ok([...named.values()].sort((a, b) => b.up + b.down - (a.up + a.down)).slice(0, limit))
    },

    async shareUpstream(profileId, upstreamId, port) {
      const profile = profiles.get(profileId)
      if (!profile) return fail('not-found', `No profile with id "${profileId}"`)
      return sharedPorts.share(profile, upstreamId, port === undefined ? {} : { port })
    },

    listSharedPorts: async () => ok(sharedPorts.list()),

    stopSharedPort: (port) => sharedPorts.stop(port),

    async getGroupStatus(profileId) {
      const running = engine.profile.id === profileId
      const profile = running ? engine.profile : profiles.get(profileId)
      if (!profile) return fail('not-found', `No profile with id "${profileId}"`)
      return ok(describeGroups(profile, running ? engine.upstreamHealth : null))
    },

    async selectGroupMember(profileId, groupId, upstreamId) {
      const profile = profiles.get(profileId)
      if (!profile) return fail('not-found', `No profile with id "${profileId}"`)
      const group = profile.groups?.find((g) => g.id === groupId)
      if (!group) return fail('not-found', `Profile "${profile.name}" has no group with id "${groupId}"`)
      if (!group.members.includes(upstreamId))
        return fail('invalid-input', `That upstream is not a member of group "${group.name}"`)
      const groups = profile.groups!.map((g) => (g.id === groupId ? { ...g, selected: upstreamId } : g))
      const saved = await profiles.put({ ...profile, groups })
      if (!saved.ok) return saved
      if (engine.profile.id === profileId) engine.applyProfile(saved.value)
      return ok(maskSecrets(saved.value))
    },

    async testUpstreams(profileId, url) {
      const profile = profiles.get(profileId)
      if (!profile) return fail('not-found', `No profile with id "${profileId}"`)
      const results = new Map<string, UpstreamTestResult>()
      await measureAll(
        profile.upstreams,
        profile.upstreams,
        url,
        async (upstream, target, companions) => {
          const result = await testUpstream(upstream, target, undefined, companions)
          results.set(upstream.id, result)
          return asMeasurement(result)
        },
        (upstream, measurement) => {
          // A test that could not run at all (no free port for its engine) says why.
          if (!results.has(upstream.id))
            results.set(upstream.id, { ok: false, status: 0, latencyMs: 0, error: measurement.error })
          // Lowest-latency groups of the running profile use these figures at once.
          if (engine.profile.id === profileId) engine.upstreamHealth.measured(upstream, measurement)
        }
      )
      return ok(profile.upstreams.map((u) => ({ upstreamId: u.id, result: results.get(u.id)! })))
    },

    addRules: async (profileId, entries) =>
      counted(await changeRules(profileId, (p) => insertRules(p, entries))),

    updateRule: async (profileId, rule) => counted(await changeRules(profileId, (p) => replaceRule(p, rule))),

    async deleteRules(profileId, ruleIds) {
      const changed = await changeRules(profileId, (p) => removeRules(p, ruleIds))
      return changed.ok
        ? ok({ ruleCount: changed.value.rules.length, removed: changed.value.removed })
        : changed
    },

    async moveRules(profileId, placements) {
      const changed = await changeRules(profileId, (p) => placeRules(p, placements))
      return changed.ok
        ? ok({ ruleCount: changed.value.rules.length, before: changed.value.before })
        : changed
    },

    setRulesEnabled: async (profileId, ruleIds, enabled) =>
      counted(await changeRules(profileId, (p) => setRulesEnabled(p, ruleIds, enabled))),

    getRuleHits: async (profileId) => ok(ruleHits.list(profileId)),

    async previewImport(text, fileName) {
      // Off this thread: a large file takes seconds to read, and this thread carries the traffic.
      const read = await readImportInWorker(
        text,
        fileName,
        profiles.list().map((p) => p.name)
      )
      if (!read.ok) return read
      return ok({ ...read.value, profiles: read.value.profiles.map(maskSecrets) })
    },

    async importProfiles(text, fileName) {
      // Off this thread: a large file takes seconds to read, and this thread carries the traffic.
      const read = await readImportInWorker(
        text,
        fileName,
        profiles.list().map((p) => p.name)
      )
      if (!read.ok) return read
      const { saveImported } = await import('../transfer/import-file.ts')
      const saved = await saveImported(profiles, read.value.profiles)
      return saved.ok ? ok(read.value.summary) : saved
    },

    async exportProfile(profileId, format) {
      const profile = profiles.get(profileId)
      if (!profile) return fail('not-found', `No profile with id "${profileId}"`)
      return ok(format === 'pac' ? buildProfilePac(profile) : buildSquidConfig(profile))
    },

    exportBackup: async ({ includePasswords }) =>
      ok(buildBackup(profiles.list(), settings.get(), includePasswords))
  }
}
