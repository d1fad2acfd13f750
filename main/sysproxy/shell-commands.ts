/**
 * "Copy shell commands": the environment variables that point terminal programs at Junction, for
 * POSIX shells, PowerShell and cmd.exe. Most tools read the lowercase names, some the uppercase.
 */
import type { ProxyEndpoint } from './types.ts'

export interface ShellCommands {
  posix: string
  powershell: string
  cmd: string
}

export function shellCommands(endpoint: ProxyEndpoint, bypass: string[]): ShellCommands {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host
  const url = `http://${host}:${endpoint.port}`
  // no_proxy takes hosts, domains and (in most tools) CIDR blocks; Windows-only tokens mean nothing there.
  const noProxy = bypass.filter((b) => b !== '<local>').join(',')
  const vars: [string, string][] = [
    ['http_proxy', url],
    ['https_proxy', url],
    ['all_proxy', url],
    ['no_proxy', noProxy]
  ]
  const all = [...vars, ...vars.map(([k, v]) => [k.toUpperCase(), v] as [string, string])]
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`
  return {
    posix: `export ${all.map(([k, v]) => `${k}=${quote(v)}`).join(' ')}`,
    powershell: vars.map(([k, v]) => `$env:${k}="${v.replace(/[`"$]/g, '`$&')}"`).join('; '),
    cmd: vars.map(([k, v]) => `set "${k}=${v}"`).join(' && ')
  }
}
