/**
 * Argument schemas for every method of the contract, checked in main before any handler runs.
 * Separate from ipc-contract.ts so that the sandboxed preload does not bundle zod.
 */
import { z } from 'zod'
import { CONNECTION_SORT_KEYS, TRAFFIC_RANGES, type AppApi, type SameKeys } from './ipc-contract.ts'
import { ProfileSchema, SettingsSchema, UpstreamSchema } from './model.ts'

const id = z.string().min(1).max(64)

/**
 * A settings change. Top-level fields replace the current values; within a group (`timeouts`,
 * `systemProxy`, `desktop`) only the fields given change, so `{ timeouts: { connectSeconds: 30 } }`
 * keeps the other timeouts. The store applies the same merge.
 */
export const SettingsPatchSchema = SettingsSchema.partial().extend({
  systemProxy: SettingsSchema.shape.systemProxy.partial().optional(),
  timeouts: SettingsSchema.shape.timeouts.partial().optional(),
  desktop: SettingsSchema.shape.desktop.partial().optional()
})
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>
const range = z.object({ from: z.number().int().nonnegative(), to: z.number().int().nonnegative() })
const exchangeId = z.number().int().positive()
const historyKind = z.enum(['host', 'profile', 'route'])
/** Rules one per-rule call may touch: a paste or a selection of a whole filtered view. */
export const RULES_PER_CALL = 200_000
const position = z
  .number()
  .int()
  .nonnegative()
  .max(RULES_PER_CALL * 2)
const ruleIds = z.array(id).min(1).max(RULES_PER_CALL)
/** Other tools' exports are small; 5 MiB leaves room for long rule lists and refuses runaway files. */
const importText = z
  .string()
  .min(1, 'is empty')
  .max(5 * 1024 * 1024, 'is larger than 5 MiB')
const importFileName = z.string().max(255)

export const API_PAYLOADS = {
  getEngineState: z.tuple([]),
  listProfiles: z.tuple([]),
  saveProfile: z.tuple([ProfileSchema]),
  deleteProfile: z.tuple([id]),
  setActiveProfile: z.tuple([id, z.object({ closeConnections: z.boolean() }).optional()]),
  explain: z.tuple([
    id,
    z.string().min(1).max(2048),
    z
      .string()
      .regex(/^[A-Za-z]{1,16}$/, 'must be a request method')
      .optional()
  ]),
  testUpstream: z.tuple([id, UpstreamSchema, z.string().url().max(2048)]),
  getSettings: z.tuple([]),
  updateSettings: z.tuple([SettingsPatchSchema]),
  getSystemProxy: z.tuple([]),
  setSystemProxy: z.tuple([z.enum(['off', 'manual', 'pac'])]),
  shellCommands: z.tuple([]),
  getStats: z.tuple([]),
  getRequestLog: z.tuple([
    z.object({ limit: z.number().int().min(1).max(5000), filter: z.string().max(253).optional() })
  ]),
  topHosts: z.tuple([range.extend({ limit: z.number().int().min(1).max(1000) })]),
  historySeries: z.tuple([range.extend({ kind: historyKind, name: z.string().min(1).max(253) })]),
  exportHistoryCsv: z.tuple([range]),
  listConnections: z.tuple([
    z.object({
      offset: z.number().int().nonnegative(),
      limit: z.number().int().min(1).max(1000),
      filter: z.string().max(253).optional(),
      sort: z
        .object({ key: z.enum(CONNECTION_SORT_KEYS), direction: z.enum(['ascending', 'descending']) })
        .optional()
    })
  ]),
  closeConnection: z.tuple([z.number().int().nonnegative()]),
  closeConnections: z.tuple([z.string().max(253)]),
  closeProfileConnections: z.tuple([id]),
  exportConfig: z.tuple([]),
  importConfig: z.tuple([
    z
      .string()
      .min(2)
      .max(20 * 1024 * 1024)
  ]),
  getCertificateAuthority: z.tuple([]),
  regenerateCertificateAuthority: z.tuple([]),
  exportCertificateAuthority: z.tuple([z.enum(['pem', 'der'])]),
  launchChromium: z.tuple([]),
  listExchanges: z.tuple([
    z.object({
      offset: z.number().int().nonnegative(),
      limit: z.number().int().min(1).max(1000),
      filter: z
        .object({
          host: z.string().max(253).optional(),
          status: z
            .string()
            .regex(/^[1-5][0-9x]{0,2}$/i, 'a status (404), a class (4xx) or its first digit (4)')
            .optional(),
          method: z.string().max(32).optional(),
          text: z.string().max(2048).optional()
        })
        .optional()
    })
  ]),
  exchangeDetail: z.tuple([exchangeId]),
  exchangeAsCurl: z.tuple([exchangeId]),
  clearExchanges: z.tuple([]),
  setInspectRecording: z.tuple([z.boolean()]),
  inspectState: z.tuple([]),
  rotateDashboardToken: z.tuple([]),
  getRunOverrides: z.tuple([]),
  trafficRates: z.tuple([z.object({ range: z.enum(TRAFFIC_RANGES) })]),
  trafficBreakdown: z.tuple([
    z.object({
      range: z.enum(TRAFFIC_RANGES),
      kind: z.enum(['host', 'profile']),
      limit: z.number().int().min(1).max(100)
    })
  ]),
  shareUpstream: z.tuple([id, id, z.number().int().min(1).max(65535).optional()]),
  listSharedPorts: z.tuple([]),
  stopSharedPort: z.tuple([z.number().int().min(1).max(65535)]),
  getGroupStatus: z.tuple([id]),
  selectGroupMember: z.tuple([id, id, id]),
  testUpstreams: z.tuple([
    id,
    z
      .string()
      .url()
      .max(2048)
      .regex(/^https?:\/\//i, 'must be an http:// or https:// URL')
  ]),
  // A rule's own checks need its profile (the upstreams it names), so the service validates rules
  // (main/rules/rule-edits.ts) with messages that name them; here only the shape around them.
  addRules: z.tuple([
    id,
    z
      .array(z.object({ rule: z.unknown(), index: position }))
      .min(1)
      .max(RULES_PER_CALL)
  ]),
  updateRule: z.tuple([id, z.unknown()]),
  deleteRules: z.tuple([id, ruleIds]),
  moveRules: z.tuple([
    id,
    z
      .array(z.object({ ruleId: id, index: position }))
      .min(1)
      .max(RULES_PER_CALL)
  ]),
  setRulesEnabled: z.tuple([id, ruleIds, z.boolean()]),
  getRuleHits: z.tuple([id]),
  previewImport: z.tuple([importText, importFileName.optional()]),
  importProfiles: z.tuple([importText, importFileName.optional()]),
  exportProfile: z.tuple([id, z.enum(['pac', 'squid'])]),
  exportBackup: z.tuple([z.object({ includePasswords: z.boolean() })])
} as const

export const PAYLOADS_COMPLETE: SameKeys<AppApi, typeof API_PAYLOADS> = true
