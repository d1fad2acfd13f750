/**
 * What "system proxy on" means for a given listen address, mode and bypass list.
 */
import type { Settings } from '../../common/model.ts'
import type { PlatformId, DesiredProxy } from './types.ts'

/**
 * Local traffic never goes through the proxy. WinINet's ProxyOverride takes wildcards, not CIDR
 * blocks, and spells "plain host names" as `<local>`.
 */
export function defaultBypass(platform: PlatformId | null): string[] {
  return platform === 'windows'
    ? ['localhost', '127.*', '[::1]', '<local>']
    : ['localhost', '127.0.0.0/8', '::1']
}

export function desiredProxy(
  settings: Settings['systemProxy'],
  platform: PlatformId | null,
  host: string,
  port: number
): DesiredProxy | null {
  // Clients must reach Junction on a concrete address; a wildcard listen address means loopback here.
  const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  const endpoint = { host: target, port }
  switch (settings.mode) {
    case 'off':
      return null
    case 'pac':
      return { mode: 'pac', url: `http://${target.includes(':') ? `[${target}]` : target}:${port}/proxy.pac` }
    case 'manual':
      return {
        mode: 'manual',
        http: endpoint,
        https: endpoint,
        socks: settings.socks ? endpoint : null,
        bypass: settings.bypass.length > 0 ? settings.bypass : defaultBypass(platform)
      }
  }
}
