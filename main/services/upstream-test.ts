/**
 * "Test" for an upstream in the profile editor: one real request through that upstream alone, via a
 * throwaway engine on a free loopback port, so the result (latency, or the same readable error a
 * browser would get) comes from exactly the code that will carry the user's traffic.
 */
import http from 'node:http'
import type { Socket } from 'node:net'
import type { Upstream } from '../../common/model.ts'
import { ProxyEngine, type LatencyProbe } from '../engine/engine.ts'
import type { Measurement } from '../engine/upstream-health.ts'

export interface UpstreamTestResult {
  ok: boolean
  /** HTTP status the target answered, or Junction's 502/504 when the upstream failed. */
  status: number
  latencyMs: number
  /** The failure in words (Junction's error text), or null. */
  error: string | null
}

/**
 * `companions`: the other upstreams of its profile, so that one reached through another (`via`) is
 * tested along its whole chain.
 */
export async function testUpstream(
  upstream: Upstream,
  url: string,
  timeoutMs = 15_000,
  companions: readonly Upstream[] = []
): Promise<UpstreamTestResult> {
  const target = new URL(url)
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    throw new Error('Only http:// and https:// URLs can be tested')
  const engine = new ProxyEngine({
    port: 0,
    profile: {
      id: 'upstream-test',
      name: 'Upstream test',
      upstreams: [upstream, ...companions.filter((u) => u.id !== upstream.id)],
      rules: [],
      defaultAction: { type: 'upstream', upstreamId: upstream.id }
    }
  })
  await engine.start()
  const started = performance.now()
  try {
    // https targets are tested as a tunnel (CONNECT), http targets as a forwarded request.
    const result = await new Promise<{ status: number; body: string; error: string | null }>(
      (resolve, reject) => {
        const options =
          target.protocol === 'http:'
            ? {
                host: '127.0.0.1',
                port: engine.port!,
                method: 'GET',
                path: target.href,
                headers: { host: target.host }
              }
            : {
                host: '127.0.0.1',
                port: engine.port!,
                method: 'CONNECT',
                path: `${target.hostname}:${target.port || 443}`
              }
        const request = http.request({ ...options, agent: false, timeout: timeoutMs })
        const finish = (res: http.IncomingMessage, socket?: Socket) => {
          let body = ''
          res.on('data', (chunk: Buffer) => (body += chunk.toString()))
          const code = res.headers['x-junction-error']
          const done = () =>
            resolve({ status: res.statusCode ?? 0, body, error: typeof code === 'string' ? code : null })
          if (socket) {
            socket.destroy()
            done()
          } else res.on('end', done)
        }
        request.on('response', (res) => finish(res))
        request.on('connect', (res, socket) => finish(res, socket))
        request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)))
        request.on('error', reject)
        request.end()
      }
    )
    const latencyMs = Math.round(performance.now() - started)
    return result.error
      ? { ok: false, status: result.status, latencyMs, error: result.body.trim() || result.error }
      : { ok: result.status > 0 && result.status < 500, status: result.status, latencyMs, error: null }
  } finally {
    await engine.stop()
  }
}

/** Latency measurements for lowest-latency groups and "Test all": the same test, as a latency or an error. */
export const probeLatency: LatencyProbe = async (upstream, url, companions) =>
  asMeasurement(await testUpstream(upstream, url, undefined, companions))

export function asMeasurement(result: UpstreamTestResult): Measurement {
  return result.ok
    ? { latencyMs: result.latencyMs, error: null }
    : { latencyMs: null, error: result.error ?? `answered ${result.status}` }
}
