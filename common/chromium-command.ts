/**
 * How to start Chromium so that it goes through Junction and trusts Junction's local CA and nothing
 * more: a throwaway profile, the proxy, and the CA's public key pinned with
 * `--ignore-certificate-errors-spki-list` (which only accepts certificates chaining to that key), so
 * the system's trust store is never touched. Pure: used by the Settings panel and the tests.
 */

/** Chromium switches for a proxy on 127.0.0.1:`port` whose CA has this SPKI hash (base64 SHA-256). */
export function chromiumSwitches(port: number, spkiSha256Base64: string): string[] {
  return [
    `--proxy-server=http://127.0.0.1:${port}`,
    `--ignore-certificate-errors-spki-list=${spkiSha256Base64}`
  ]
}

/** The command line a user copies (POSIX shell: a fresh profile from mktemp). */
export function chromiumCommand(port: number, spkiSha256Base64: string): string {
  return ['chromium', '--user-data-dir=$(mktemp -d)', ...chromiumSwitches(port, spkiSha256Base64)].join(' ')
}
