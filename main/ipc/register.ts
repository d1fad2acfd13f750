/**
 * Electron IPC for the contract: one `ipcMain.handle` per method, each checking that the call comes
 * from Junction's own page before the payload is validated and dispatched.
 */
import type { IpcMain, IpcMainInvokeEvent } from 'electron'
import { API_METHODS, channelFor, type AppApi } from '../../common/ipc-contract.ts'
import { fail, type Result } from '../../common/result.ts'
import { dispatch } from '../services/dispatch.ts'

/** Where Junction's UI is loaded from: the packaged file, or the dev server during development. */
export function trustedOrigins(
  devServerUrl: string | undefined,
  rendererFileUrl: string
): (url: string) => boolean {
  const dev = devServerUrl ? new URL(devServerUrl).origin : null
  return (url) => {
    if (
      url === rendererFileUrl ||
      url.startsWith(`${rendererFileUrl}#`) ||
      url.startsWith(`${rendererFileUrl}?`)
    )
      return true
    try {
      return dev !== null && new URL(url).origin === dev
    } catch {
      return false
    }
  }
}

export function registerIpc(
  ipcMain: Pick<IpcMain, 'handle'>,
  api: AppApi,
  isTrusted: (url: string) => boolean
): void {
  for (const name of API_METHODS) {
    ipcMain.handle(
      channelFor(name),
      (event: IpcMainInvokeEvent, ...args: unknown[]): Promise<Result<unknown>> => {
        // A destroyed or foreign frame (an iframe, a navigated page) never reaches a handler.
        const url = event.senderFrame?.url
        if (!url || !isTrusted(url))
          return Promise.resolve(fail('invalid-input', `Refused a call from ${url ?? 'an unknown frame'}`))
        return dispatch(api, name, args)
      }
    )
  }
}
