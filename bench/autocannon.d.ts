/**
 * autocannon ships no types and there is no @types package pinned here; this declares just the parts
 * of its programmatic API (autocannon 9) that the benchmark uses.
 */
declare module 'autocannon' {
  interface RequestSpec {
    method?: string
    /** Written verbatim as the request target, so an absolute URL gives an absolute-form request. */
    path?: string
    headers?: Record<string, string>
  }

  interface Options {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
    timeout?: number
    requests?: RequestSpec[]
  }

  interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p99: number
  }

  interface Result {
    /** Seconds, to 0.01. */
    duration: number
    errors: number
    timeouts: number
    resets: number
    mismatches: number
    non2xx: number
    '2xx': number
    statusCodeStats: Record<string, { count: number }>
    requests: Histogram & { sent: number }
    latency: Histogram
  }

  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
