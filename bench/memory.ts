/**
 * Memory with many open connections: the proxy process's resident memory (VmRSS, Linux) idle and
 * with N CONNECT tunnels held open to a local origin, for two variants started fresh in the same run.
 */
import net from 'node:net'
import { startChild, type Child, type Variant } from './throughput.ts'
import { rssMiB } from './proc.ts'

export interface MemoryFigures {
  variant: Variant
  connections: number
  idleRssMiB: number
  loadedRssMiB: number
  /** (loaded − idle) / connections. */
  perConnectionKiB: number
}

/** Opens one tunnel through the proxy and resolves once it answered 200. */
function openTunnel(proxyPort: number, targetPort: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1')
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('tunnel not answered within 10 s'))
    }, 10_000)
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.once('data', (head: Buffer) => {
      clearTimeout(timer)
      if (head.toString('latin1').startsWith('HTTP/1.1 200')) resolve(socket)
      else {
        socket.destroy()
        reject(new Error(`tunnel refused: ${head.toString('latin1').split('\r\n')[0]}`))
      }
    })
    socket.write(`CONNECT 127.0.0.1:${targetPort} HTTP/1.1\r\nHost: 127.0.0.1:${targetPort}\r\n\r\n`)
  })
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function measureVariant(variant: Variant, origin: Child, connections: number): Promise<MemoryFigures> {
  const proxy = await startChild('./proxy-server.ts', [variant], `proxy child (${variant})`)
  const sockets: net.Socket[] = []
  try {
    await settle(1000)
    const idle = rssMiB(proxy.pid)
    for (let opened = 0; opened < connections; opened += 250) {
      const batch = Math.min(250, connections - opened)
      sockets.push(
        ...(await Promise.all(Array.from({ length: batch }, () => openTunnel(proxy.port, origin.port))))
      )
    }
    // Let the statistics tick (1 s) run over all of them before reading.
    await settle(2500)
    const loaded = rssMiB(proxy.pid)
    return {
      variant,
      connections,
      idleRssMiB: idle,
      loadedRssMiB: loaded,
      perConnectionKiB: ((loaded - idle) * 1024) / connections
    }
  } finally {
    for (const socket of sockets) socket.destroy()
    await proxy.stop()
  }
}

export async function measureMemory(variants: Variant[], connections = 5000): Promise<MemoryFigures[]> {
  const origin = await startChild('./origin-server.ts', [], 'origin child')
  try {
    const figures: MemoryFigures[] = []
    for (const variant of variants) figures.push(await measureVariant(variant, origin, connections))
    return figures
  } finally {
    await origin.stop()
  }
}
