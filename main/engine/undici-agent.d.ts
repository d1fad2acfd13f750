// The direct lane loads undici's Agent module alone: the package's entry also loads fetch, WebSocket
// and caches, 4 MiB more of resident memory in headless Junction (BENCHMARKS.md, "The direct lane").
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici'
  export default Agent
}
