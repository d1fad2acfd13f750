/**
 * The Inspect view's calls on the service and its event: what the store holds reaches the UI through
 * the contract, an exchange that is gone is `not-found`, and the store's change event is forwarded.
 */
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { AppEvents } from '../../../common/ipc-contract.ts'
import type { RuntimeParts } from '../../../main/app/parts.ts'
import { ExchangeStore } from '../../../main/inspect/exchange-store.ts'
import { forwardEvents } from '../../../main/ipc/events.ts'
import { createJunctionService } from '../../../main/services/junction-service.ts'
import { createNameResolver } from '../../../main/stats/display-names.ts'
import type { Profile } from '../../../common/model.ts'

const WORK: Profile = {
  id: 'work',
  name: 'Work',
  upstreams: [{ id: 'u1', name: 'Squid', scheme: 'http', host: '127.0.0.1', port: 3128 }],
  rules: [
    {
      id: 'r1',
      name: 'APIs',
      enabled: true,
      matchers: [{ type: 'domain', value: 'a.test' }],
      action: { type: 'upstream', upstreamId: 'u1' }
    }
  ],
  defaultAction: { type: 'direct' }
}

function exchange(id: number) {
  return {
    id,
    at: 1_700_000_000_000,
    method: 'GET',
    url: `http://a.test/${id}`,
    intercepted: false,
    profileId: 'work',
    ruleId: 'r1',
    route: 'u1',
    requestHeaders: ['Host', 'a.test', 'Accept', 'application/json'],
    requestBody: { chunks: [], kept: 0, total: 0 },
    status: 200,
    responseHeaders: ['Content-Type', 'application/json'],
    responseBody: { chunks: [Buffer.from('{"ok":true}')], kept: 11, total: 11 },
    error: null,
    durationMs: 3
  }
}

describe('the service’s Inspect calls', () => {
  const exchanges = new ExchangeStore({ notifyMs: 0 })
  // The Inspect calls read only the exchange store and the name resolver from the runtime's parts.
  const names = createNameResolver(() => [WORK])
  const service = createJunctionService({ exchanges, names } as unknown as RuntimeParts)

  it('record only after the view switched recording on, and list, detail and curl what was kept', async () => {
    expect(await service.inspectState()).toEqual({
      ok: true,
      value: { recording: false, count: 0, bytes: 0 }
    })
    expect(exchanges.recording).toBe(false)
    expect(await service.setInspectRecording(true)).toMatchObject({ ok: true, value: { recording: true } })
    exchanges.started(exchange(41))
    exchanges.finished(exchange(41))
    expect(await service.listExchanges({ offset: 0, limit: 10 })).toMatchObject({
      ok: true,
      value: {
        total: 1,
        // Names, not ids: Inspect shows what the user called them.
        rows: [
          {
            id: 41,
            host: 'a.test',
            status: 200,
            responseBytes: 11,
            profileName: 'Work',
            ruleName: 'APIs',
            routeName: 'Squid'
          }
        ]
      }
    })
    const detail = await service.exchangeDetail(41)
    expect(detail).toMatchObject({
      ok: true,
      value: {
        requestHeaders: [
          { name: 'Host', value: 'a.test' },
          { name: 'Accept', value: 'application/json' }
        ],
        responseBody: { kind: 'json', text: '{\n  "ok": true\n}' }
      }
    })
    expect(await service.exchangeAsCurl(41)).toEqual({
      ok: true,
      value: "curl \\\n  http://a.test/41 \\\n  -H 'Accept: application/json'"
    })
    expect(await service.clearExchanges()).toEqual({
      ok: true,
      value: { recording: true, count: 0, bytes: 0 }
    })
    for (const result of [await service.exchangeDetail(41), await service.exchangeAsCurl(41)])
      expect(result).toEqual({
        ok: false,
        error: { code: 'not-found', message: 'Exchange #41 is no longer kept' }
      })
  })

  it('tell every UI when exchanges change, until it unsubscribes', () => {
    const store = new ExchangeStore({ notifyMs: 0 })
    const sent: AppEvents['onExchanges'][] = []
    const off = forwardEvents(
      {
        engine: new EventEmitter(),
        stats: new EventEmitter(),
        systemProxy: { systemProxy: null },
        exchanges: store
      } as unknown as Pick<RuntimeParts, 'engine' | 'stats' | 'systemProxy' | 'exchanges'>,
      (event, payload) => {
        if (event === 'onExchanges') sent.push(payload as AppEvents['onExchanges'])
      }
    )
    store.setRecording(true)
    off()
    store.setRecording(false)
    expect(sent).toEqual([{ recording: true, count: 0, bytes: 0 }])
  })
})
