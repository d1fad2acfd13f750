/**
 * Profiles as the UI edits them (passwords arrive as a placeholder, see SECRET_PLACEHOLDER).
 */
import type { Profile } from '../../../../common/model.ts'
import { api } from '../api.ts'

class ProfilesStore {
  list = $state.raw<Profile[]>([])
  error = $state<string | null>(null)

  async load(): Promise<void> {
    try {
      this.list = await api.listProfiles()
      this.error = null
    } catch (error) {
      this.error = (error as Error).message
    }
  }

  async activate(id: string): Promise<void> {
    try {
      await api.setActiveProfile(id)
      this.error = null
    } catch (error) {
      this.error = (error as Error).message
    }
  }
}

export const profiles = new ProfilesStore()
