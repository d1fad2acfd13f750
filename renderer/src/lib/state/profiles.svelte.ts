/**
 * Profiles as the UI edits them (passwords arrive as a placeholder, see SECRET_PLACEHOLDER).
 */
import type { Profile, Rule } from '../../../../common/model.ts'
import { api } from '../api.ts'
import { isUnreachable, link } from '../link.ts'

class ProfilesStore {
  list = $state.raw<Profile[]>([])
  error = $state<string | null>(null)
  #watching = false

  async load(): Promise<void> {
    if (!this.#watching) {
      this.#watching = true
      link.onReconnect(() => void this.load())
    }
    try {
      this.list = await api.listProfiles()
      this.error = null
    } catch (error) {
      // The link indicator already says when Junction cannot be reached.
      if (!isUnreachable(error)) this.error = (error as Error).message
    }
  }

  async activate(id: string): Promise<void> {
    try {
      await api.setActiveProfile(id)
      this.error = null
    } catch (error) {
      // The link indicator already says when Junction cannot be reached.
      if (!isUnreachable(error)) this.error = (error as Error).message
    }
  }

  /**
   * Takes a profile's new rule list after a per-rule save (the Rules view computes it as main did), so
   * a change to one rule of 100,000 does not reload every profile.
   */
  setRules(profileId: string, rules: Rule[]): void {
    this.list = this.list.map((p) => (p.id === profileId ? { ...p, rules } : p))
  }
}

export const profiles = new ProfilesStore()
