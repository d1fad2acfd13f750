/**
 * The few words main puts into the names it resolves (`default` for no rule, the routes `direct`,
 * `block` and `reject`), shown in the UI's language. Everything else main names — profile, upstream
 * and rule names, a rule's description — is the user's data or main's English.
 */
import type { ShownNames } from '../../../../common/model.ts'
import { t } from './locale.svelte.ts'

const ROUTES = { direct: 'route.direct', block: 'route.block', reject: 'route.reject' } as const

/** The deciding rule's name, or "default" in the UI's language when no rule decided. */
export function ruleShown(row: Pick<ShownNames, 'ruleName'> & { ruleId: string | null }): string {
  return row.ruleId === null ? t('route.defaultRule') : row.ruleName
}

/** The route's name, with Junction's own routes in the UI's language (an upstream keeps its name). */
export function routeShown(row: { route: string; routeName?: string }): string {
  return row.route in ROUTES ? t(ROUTES[row.route as keyof typeof ROUTES]) : (row.routeName ?? row.route)
}
