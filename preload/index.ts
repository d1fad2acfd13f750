/**
 * Exposes the contract as `window.api`: one named function per method and an `onX(listener)` per
 * event that returns its unsubscribe. Never `ipcRenderer` itself, and listeners never see the
 * Electron event object.
 */
import { contextBridge, ipcRenderer } from 'electron'
import { API_EVENTS, API_METHODS, channelFor, type AppEvents } from '../common/ipc-contract.ts'

export function buildBridge(renderer: Pick<typeof ipcRenderer, 'invoke' | 'on' | 'removeListener'>) {
  const methods = Object.fromEntries(
    API_METHODS.map((name) => [name, (...args: unknown[]) => renderer.invoke(channelFor(name), ...args)])
  )
  const events = Object.fromEntries(
    API_EVENTS.map((name) => [
      name,
      (listener: (payload: AppEvents[typeof name]) => void) => {
        const wrapped = (_event: unknown, payload: AppEvents[typeof name]) => listener(payload)
        renderer.on(channelFor(name), wrapped)
        return () => {
          renderer.removeListener(channelFor(name), wrapped)
        }
      }
    ])
  )
  return { ...methods, ...events }
}

contextBridge.exposeInMainWorld('api', buildBridge(ipcRenderer))
