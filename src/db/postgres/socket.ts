// The sockets of one pool (postgres.js's documented `socket` option).
//
// Why: when a server accepts a connection and closes it without a byte (FIN-on-connect: a load
// balancer or pooler with no backend, porsager/postgres#1193), postgres.js reconnects at once, in a
// loop, for as long as the query waits: hundreds of connections a second until our deadline ends
// the call. Here every socket that closes cleanly before the server said anything is counted;
// the third such close in a row fails the waiting query with CONNECTION_CLOSED, so the store
// reports 'unavailable' at once and the next call starts afresh.
import net from 'node:net'
import { Duplex } from 'node:stream'

/** Silent closes in a row that end the reconnect loop. */
const SILENT_CLOSES_TO_GIVE_UP = 3

interface Target {
  host: string[]
  port: number[]
  path?: string | false
}

export type SocketFactory = (target: Target) => Duplex

/**
 * A stand-in socket that fails with CONNECTION_CLOSED. Not a net.Socket: Bun reports writes
 * pending on a destroyed net.Socket as ERR_SOCKET_CLOSED first, hiding the reason.
 */
function failedSocket(): Duplex {
  const stub = new Duplex({ read() {}, write: (_chunk, _encoding, done) => done() })
  const error = Object.assign(new Error('the server closed every connection before answering'), { code: 'CONNECTION_CLOSED' })
  // postgres.js listens for 'error' only after an await on our return value
  setTimeout(() => stub.destroy(error), 0)
  return stub
}

/**
 * `onFirstByte` sees the first byte each server sends: with TLS asked for, that is its answer to
 * the SSLRequest ('S' yes, 'N' no), which postgres.js does not report when it is no (it then fails
 * the TLS handshake with a misleading reset or timeout).
 */
export function createSocketFactory(onFirstByte?: (byte: number) => void): SocketFactory {
  let silentCloses = 0
  let next = 0

  return (target) => {
    if (silentCloses >= SILENT_CLOSES_TO_GIVE_UP) {
      silentCloses = 0
      return failedSocket()
    }
    const socket = new net.Socket()
    let answered = false
    let failed = false
    socket.once('data', (data: Buffer) => {
      answered = true
      silentCloses = 0
      if (data.length > 0) onFirstByte?.(data[0]!)
    })
    socket.once('error', () => (failed = true))
    socket.once('close', () => {
      // refused, reset and timeouts are errors postgres.js reports itself
      if (!answered && !failed) silentCloses++
    })
    if (target.path) return socket.connect(target.path)
    // postgres.js writes the startup message at once; the socket sends it when connected
    const i = next++ % target.host.length
    return socket.connect(target.port[i] ?? target.port[0]!, target.host[i]!)
  }
}
