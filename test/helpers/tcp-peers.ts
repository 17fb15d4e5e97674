// Misbehaving "databases" for the boot matrix: tiny TCP servers on loopback, port 0.
//   blackhole  accepts the connection, reads and ignores everything, never answers
//   close      accepts the connection and closes it at once (FIN-on-connect)
// plus a port that nothing listens on (connection refused).
import type { Socket, TCPSocketListener } from 'bun'

export interface TcpPeer {
  readonly port: number
  /** connections accepted so far: proves the client really got this far */
  readonly accepted: number
  close(): void
}

export function startTcpPeer(kind: 'blackhole' | 'close'): TcpPeer {
  let accepted = 0
  const held = new Set<Socket<undefined>>()
  const listener: TCPSocketListener<undefined> = Bun.listen({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(socket) {
        accepted++
        if (kind === 'close') socket.end()
        else held.add(socket)
      },
      data() {},
      close(socket) {
        held.delete(socket)
      },
      error(socket) {
        held.delete(socket)
      },
    },
  })
  return {
    port: listener.port,
    get accepted() {
      return accepted
    },
    close() {
      for (const s of held) s.terminate()
      held.clear()
      listener.stop(true)
    },
  }
}

/** A loopback port that was free a moment ago and has nothing listening on it now. */
export function refusedPort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = listener.port
  listener.stop(true)
  return port
}
