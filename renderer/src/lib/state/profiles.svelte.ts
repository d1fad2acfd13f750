/**
 * Profiles as the UI edits them (passwords arrive as a placeholder, see SECRET_PLACEHOLDER).
 */
import type { Profile } from '../../../../common/model.ts'
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
}

export const profiles = new ProfilesStore()
