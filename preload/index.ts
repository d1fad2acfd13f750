/**
 * Exposes the typed API as `window.api`: named functions only, never `ipcRenderer` itself.
 */
import { contextBridge, ipcRenderer } from 'electron'
import { API_EVENTS, API_METHODS, channelFor, type AppApi, type AppEvents } from '../common/ipc-contract.ts'

type Listener<K extends keyof AppEvents> = (payload: AppEvents[K]) => void

const api = Object.fromEntries(API_METHODS.map((name) => [name, () => ipcRenderer.invoke(channelFor(name))]))
const events = Object.fromEntries(
  API_EVENTS.map((name) => [
    name,
    (listener: Listener<typeof name>) => {
      const wrapped = (_event: unknown, payload: AppEvents[typeof name]) => listener(payload)
      ipcRenderer.on(channelFor(name), wrapped)
      return () => ipcRenderer.removeListener(channelFor(name), wrapped)
    }
  ])
)

contextBridge.exposeInMainWorld('api', { ...(api as unknown as AppApi), ...events })
