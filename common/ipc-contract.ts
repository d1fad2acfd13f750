/**
 * The contract between the UI and the main process. Main implements `AppApi`, the preload exposes it
 * as `window.api`, the renderer calls it; channel names derive from the keys so they cannot drift.
 */
import type { EngineState } from './model.ts'
import type { Result } from './result.ts'

export interface AppApi {
  getEngineState(): Promise<Result<EngineState>>
}

export interface AppEvents {
  onEngineState: EngineState
}

export const API_METHODS = ['getEngineState'] as const satisfies readonly (keyof AppApi)[]
export const API_EVENTS = ['onEngineState'] as const satisfies readonly (keyof AppEvents)[]

export const channelFor = (name: keyof AppApi | keyof AppEvents): string => `junction:${name}`
