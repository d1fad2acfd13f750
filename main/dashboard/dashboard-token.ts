/**
 * The dashboard's access token and port, kept in the data directory (`dashboard.json`, 0600, written
 * atomically) so that a restart of headless Junction changes neither: the cookie a browser got at its
 * first visit still opens the page, and an open page reconnects to the same address by itself. A new
 * token is made only when there is none, the file is unreadable, or the user rotates it from Settings.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { writeAtomically } from '../config/json-file.ts'

export const TOKEN_FILE = 'dashboard.json'

export interface DashboardAccess {
  token: string
  /** The port the dashboard last listened on, tried first at the next start; null when unknown. */
  port: number | null
}

/** 24 random bytes as base64url: 32 characters, safe in a URL and in a cookie. */
export const newToken = (): string => randomBytes(24).toString('base64url')

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{32,128}$/

function parse(text: string): DashboardAccess | null {
  try {
    const value = JSON.parse(text) as { token?: unknown; port?: unknown }
    if (typeof value.token !== 'string' || !TOKEN_SHAPE.test(value.token)) return null
    const port =
      Number.isInteger(value.port) && (value.port as number) > 0 && (value.port as number) <= 65535
        ? (value.port as number)
        : null
    return { token: value.token, port }
  } catch {
    return null
  }
}

export class DashboardTokenStore {
  readonly file: string
  #access: DashboardAccess
  /** Why the token could not be saved (a read-only data directory); it then lasts for this run only. */
  problem: string | null = null

  private constructor(file: string, access: DashboardAccess) {
    this.file = file
    this.#access = access
  }

  /** Reads the saved token, or makes and saves a new one when there is none or it is malformed. */
  static async open(dataDir: string): Promise<DashboardTokenStore> {
    const file = path.join(dataDir, TOKEN_FILE)
    const text = await fs.readFile(file, 'utf8').catch(() => null)
    const saved = text === null ? null : parse(text)
    const store = new DashboardTokenStore(file, saved ?? { token: newToken(), port: null })
    if (saved) {
      // A copy restored from a backup may have lost its mode; the token opens the dashboard.
      await fs.chmod(file, 0o600).catch(() => undefined)
    } else await store.#save()
    return store
  }

  get token(): string {
    return this.#access.token
  }

  get port(): number | null {
    return this.#access.port
  }

  /** Replaces the token; the old one stops opening the dashboard as soon as the caller says so. */
  async rotate(): Promise<string> {
    this.#access = { ...this.#access, token: newToken() }
    await this.#save()
    return this.#access.token
  }

  /** Remembers the port in use, so the next start listens there again (when it is free). */
  async rememberPort(port: number): Promise<void> {
    if (this.#access.port === port) return
    this.#access = { ...this.#access, port }
    await this.#save()
  }

  async #save(): Promise<void> {
    try {
      await writeAtomically(this.file, `${JSON.stringify(this.#access, null, 2)}\n`)
      this.problem = null
    } catch {
      // Said without the reason: an unwritable data directory is already reported once, with it.
      this.problem =
        'the dashboard token cannot be saved in the data directory, so it changes at the next start'
    }
  }
}
