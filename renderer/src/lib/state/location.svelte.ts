/**
 * The page's address: the current view lives in the hash (`#/rules`), so a reload or a bookmark opens
 * the same view, and the dashboard's `?token=` leaves the address bar once the page has loaded (the
 * server traded it for a cookie when it served this page), so it is not left in history or a screenshot.
 */
export function dropTokenFromAddress(): void {
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- read once here, never rendered
  const url = new URL(location.href)
  if (!url.searchParams.has('token')) return
  url.searchParams.delete('token')
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`)
}

class ViewLocation<Id extends string> {
  readonly #ids: readonly Id[]
  current = $state<Id>('' as Id)

  constructor(ids: readonly Id[]) {
    this.#ids = ids
    this.current = this.#fromHash()
    addEventListener('hashchange', () => (this.current = this.#fromHash()))
  }

  go(id: Id): void {
    this.current = id
    if (location.hash !== `#/${id}`) location.hash = `/${id}`
  }

  #fromHash(): Id {
    const wanted = location.hash.replace(/^#\/?/, '')
    return this.#ids.find((id) => id === wanted) ?? this.#ids[0]!
  }
}

export const VIEW_IDS = [
  'overview',
  'profiles',
  'rules',
  'connections',
  'activity',
  'inspect',
  'settings'
] as const
export type ViewId = (typeof VIEW_IDS)[number]
export const view = new ViewLocation<ViewId>(VIEW_IDS)
