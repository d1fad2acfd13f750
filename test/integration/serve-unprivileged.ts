// Headless Junction as the unprivileged user `nobody` when the tests run as root: root writes through
// any file mode, so a directory made read-only with chmod stops only a user without that privilege.
// Started as `node serve-unprivileged.ts ARGS…`, so main/serve.ts reads the same arguments.
const NOBODY = 65534
if (process.getuid?.() === 0) {
  process.setgroups!([])
  process.setgid!(NOBODY)
  process.setuid!(NOBODY)
}
await import('../../main/serve.ts')

export {}
