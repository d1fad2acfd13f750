/**
 * Child process for the peers benchmark: proxy-chain as it ships, `new Server()` and nothing else, so
 * that its memory is proxy-chain's own (bench/proxy-server.ts loads Junction's engine modules too,
 * even for its `bare` variant). Prints `{"port":N}` once listening.
 */
import { Server } from 'proxy-chain'
import { announcePort, exitOnSignalOrOrphan } from './child-common.ts'

const server = new Server({ host: '127.0.0.1', port: 0 })
await server.listen()
exitOnSignalOrOrphan(() => server.close(true))
announcePort(server.port)
