// A TCP proxy on loopback that sits between the app and PostgreSQL and misbehaves on demand.
// Faults are real socket behaviour, not mocks: the driver sees exactly what a dead, hung or slow
// server looks like from the network.
//
//   pass                forward both ways
//   refuse              nothing listens on the port (new connects get ECONNREFUSED); open ones are closed
//   reset               every open and new connection is torn down with RST
//   blackhole           accept, never forward, never answer; open connections freeze (bytes are held,
//                       as a partitioned network would; they flow again when the mode goes back to pass)
//   close               accept, then close at once with FIN; open connections are closed with FIN too
//   { latencyMs }       forward both ways, each chunk delayed by latencyMs (order kept)
//   { wakeMs }          a database waking from a nap (Neon's suspended compute): new connections are
//                       accepted and held wakeMs before they reach the server; open ones pass
//
// It also counts the statements clients send (`statements`), read from the PostgreSQL frontend
// protocol as it passes (StatementCounter): a test can hold the server to a number of round trips
// per request. Counting only reads the bytes; forwarding and its timing are the same in every mode.
import type { Socket, TCPSocketListener } from 'bun'

export type FaultMode = 'pass' | 'refuse' | 'reset' | 'blackhole' | 'close' | { latencyMs: number } | { wakeMs: number }

export interface FaultProxy {
  readonly host: string
  readonly port: number
  readonly mode: FaultMode
  /** connections accepted since start */
  readonly accepted: number
  /** connections currently open through the proxy */
  readonly openConnections: number
  /** bytes received from clients / from the target since start (held or dropped bytes included) */
  readonly bytesFromClients: number
  readonly bytesFromTarget: number
  /**
   * statements clients sent since start: each Sync (an extended-protocol query: Parse/Bind/Execute/Sync
   * or Bind/Execute/Sync) and each simple Query. Counted as the bytes arrive from the client, before
   * any delay: bytes held (blackhole, wake, latency) count at once, and so do bytes later dropped (reset,
   * close). Connections the proxy does not forward (refuse, reset, close at accept) are not read, nor
   * what follows a TLS or GSS handshake (encrypted): count with sslmode=disable.
   */
  readonly statements: number
  setMode(mode: FaultMode): void
  /** `url` with its host and port replaced by the proxy's */
  proxiedUrl(url: string): string
  close(): Promise<void>
}

export interface FaultProxyOptions {
  targetHost: string
  targetPort: number
  mode?: FaultMode
}

interface Chunk {
  bytes: Uint8Array
  releaseAt: number
}

/** One direction of a connection: bytes waiting to be written to `target`. */
interface Lane {
  queue: Chunk[]
  timer: ReturnType<typeof setTimeout> | null
  /** the source side finished (FIN or close): end the target once the queue is written */
  sourceEnded: boolean
  targetEnded: boolean
}

interface Link {
  client: Socket<Link>
  upstream: Socket<Link> | null
  upstreamState: 'none' | 'connecting' | 'open' | 'closed'
  toUpstream: Lane
  toClient: Lane
  counter: StatementCounter
  done: boolean
}

// The codes of the packets a client may send before its startup packet (and CancelRequest instead of one).
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const SYNC = 0x53 // 'S'
const QUERY = 0x51 // 'Q'

/**
 * The statements of one client connection, read from the frontend protocol. First come untyped
 * packets (int32 length including itself, int32 code): SSLRequest or GSSENCRequest, whose one-byte
 * answer from the server (`serverAnswered`) says whether the rest is in the clear ('N'), then the
 * startup packet, or a CancelRequest, after which nothing follows. Every later message is 1 type byte
 * + int32 length including itself. Chunks split and pack messages anywhere, so the state carries over
 * from one `feed` to the next; bodies are skipped, never copied.
 */
export class StatementCounter {
  private phase: 'untyped' | 'answer' | 'typed' | 'opaque' = 'untyped'
  private readonly header = new Uint8Array(8)
  private readonly view = new DataView(this.header.buffer)
  private have = 0
  /** body bytes of the current message still to pass over */
  private skip = 0

  /** the next bytes from the client; returns the statements they completed the header of */
  feed(bytes: Uint8Array): number {
    let found = 0
    let i = 0
    while (i < bytes.byteLength) {
      // Before the server's answer the client has nothing to send; after a TLS or GSS one, nothing is readable.
      if (this.phase === 'answer' || this.phase === 'opaque') return found
      if (this.skip > 0) {
        const n = Math.min(this.skip, bytes.byteLength - i)
        this.skip -= n
        i += n
        continue
      }
      const headerLength = this.phase === 'untyped' ? 8 : 5
      const n = Math.min(headerLength - this.have, bytes.byteLength - i)
      this.header.set(bytes.subarray(i, i + n), this.have)
      this.have += n
      i += n
      if (this.have < headerLength) return found
      this.have = 0
      if (this.phase === 'untyped') {
        const code = this.view.getInt32(4)
        this.skip = Math.max(0, this.view.getInt32(0) - 8)
        this.phase = code === SSL_REQUEST || code === GSSENC_REQUEST ? 'answer' : code === CANCEL_REQUEST ? 'opaque' : 'typed'
      } else {
        this.skip = Math.max(0, this.view.getInt32(1) - 4)
        if (this.header[0] === SYNC || this.header[0] === QUERY) found++
      }
    }
    return found
  }

  /** true while the server's answer to an SSLRequest or GSSENCRequest is awaited */
  get awaitingAnswer(): boolean {
    return this.phase === 'answer'
  }

  /** the server's first byte after such a request: 'N' (78) the startup packet follows in the clear; else a handshake */
  serverAnswered(byte: number): void {
    if (this.phase === 'answer') this.phase = byte === 78 ? 'untyped' : 'opaque'
  }
}

const HOST = '127.0.0.1'

const newLane = (): Lane => ({ queue: [], timer: null, sourceEnded: false, targetEnded: false })

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  let mode: FaultMode = opts.mode ?? 'pass'
  let listener: TCPSocketListener<Link> | null = null
  let port = 0
  let accepted = 0
  let bytesFromClients = 0
  let bytesFromTarget = 0
  let statements = 0
  let closed = false
  const links = new Set<Link>()

  const latency = (): number => (typeof mode === 'object' && 'latencyMs' in mode ? Math.max(0, mode.latencyMs) : 0)
  const wake = (): number => (typeof mode === 'object' && 'wakeMs' in mode ? Math.max(0, mode.wakeMs) : 0)
  const frozen = (): boolean => mode === 'blackhole'

  const finish = (link: Link, abrupt: boolean): void => {
    if (link.done) return
    link.done = true
    links.delete(link)
    for (const lane of [link.toUpstream, link.toClient]) {
      if (lane.timer) clearTimeout(lane.timer)
      lane.timer = null
      lane.queue = []
    }
    for (const s of [link.client, link.upstream]) {
      if (!s) continue
      if (abrupt) s.terminate()
      else s.end()
    }
    link.upstreamState = 'closed'
  }

  /** both directions delivered and ended: the connection is over */
  const settle = (link: Link): void => {
    if (link.toUpstream.targetEnded && link.toClient.targetEnded) finish(link, false)
  }

  const pump = (link: Link, lane: Lane): void => {
    if (link.done || frozen()) return
    const target = lane === link.toUpstream ? link.upstream : link.client
    if (!target || (lane === link.toUpstream && link.upstreamState !== 'open')) return settle(link)
    if (lane.timer) return
    while (lane.queue.length > 0) {
      const head = lane.queue[0]!
      const wait = head.releaseAt - Date.now()
      if (wait > 0) {
        lane.timer = setTimeout(() => {
          lane.timer = null
          pump(link, lane)
        }, wait)
        return
      }
      const n = target.write(head.bytes)
      if (n < 0) return finish(link, true)
      if (n < head.bytes.byteLength) {
        head.bytes = head.bytes.subarray(n)
        return // the drain handler resumes
      }
      lane.queue.shift()
    }
    if (lane.sourceEnded && !lane.targetEnded) {
      lane.targetEnded = true
      target.end()
    }
    settle(link)
  }

  const enqueue = (link: Link, lane: Lane, data: Uint8Array): void => {
    // Bun reuses the buffer it hands to `data`: keep a copy.
    lane.queue.push({ bytes: data.slice(), releaseAt: Date.now() + latency() })
    pump(link, lane)
  }

  const connectUpstream = (link: Link): void => {
    if (link.upstreamState !== 'none') return
    link.upstreamState = 'connecting'
    Bun.connect<Link>({
      hostname: opts.targetHost,
      port: opts.targetPort,
      data: link,
      socket: {
        open(s) {
          if (link.done) return s.terminate()
          link.upstream = s
          link.upstreamState = 'open'
          pump(link, link.toUpstream)
        },
        data(_s, data) {
          bytesFromTarget += data.byteLength
          if (!link.done) enqueue(link, link.toClient, data)
          if (link.counter.awaitingAnswer && data.byteLength > 0) link.counter.serverAnswered(data[0]!)
        },
        drain() {
          pump(link, link.toUpstream)
        },
        end() {
          link.toClient.sourceEnded = true
          pump(link, link.toClient)
        },
        close() {
          link.toClient.sourceEnded = true
          // The server is gone: nothing more can reach it.
          link.toUpstream.targetEnded = true
          link.toUpstream.queue = []
          if (link.upstreamState === 'open') link.upstreamState = 'closed'
          pump(link, link.toClient)
        },
        error() {
          finish(link, true)
        },
        connectError() {
          // The target refused: the client sees its connection reset, as through a real proxy.
          finish(link, true)
        },
      },
    }).catch(() => finish(link, true))
  }

  const listen = (atPort: number): void => {
    listener = Bun.listen<Link>({
      hostname: HOST,
      port: atPort,
      socket: {
        open(client) {
          accepted++
          if (mode === 'reset' || mode === 'refuse') {
            client.terminate()
            return
          }
          if (mode === 'close') {
            client.end()
            return
          }
          const link: Link = {
            client,
            upstream: null,
            upstreamState: 'none',
            toUpstream: newLane(),
            toClient: newLane(),
            counter: new StatementCounter(),
            done: false,
          }
          client.data = link
          links.add(link)
          const wakeMs = wake()
          if (wakeMs > 0) setTimeout(() => !link.done && !frozen() && connectUpstream(link), wakeMs)
          else if (!frozen()) connectUpstream(link)
        },
        data(client, data) {
          bytesFromClients += data.byteLength
          const link = client.data
          if (!link || link.done) return
          enqueue(link, link.toUpstream, data)
          // Read after the bytes are on their way: counting never holds them up.
          statements += link.counter.feed(data)
        },
        drain(client) {
          if (client.data) pump(client.data, client.data.toClient)
        },
        end(client) {
          const link = client.data
          if (!link) return
          link.toUpstream.sourceEnded = true
          pump(link, link.toUpstream)
        },
        close(client) {
          const link = client.data
          if (!link) return
          link.toUpstream.sourceEnded = true
          // The client is gone: nothing more can reach it.
          link.toClient.targetEnded = true
          link.toClient.queue = []
          if (link.upstreamState === 'none' || link.upstreamState === 'connecting') finish(link, false)
          else pump(link, link.toUpstream)
        },
        error(client) {
          if (client.data) finish(client.data, true)
        },
      },
    })
    port = listener.port
  }

  const stopListening = (): void => {
    listener?.stop(true)
    listener = null
  }

  listen(0)
  if (mode === 'refuse') stopListening()

  const proxy: FaultProxy = {
    host: HOST,
    get port() {
      return port
    },
    get mode() {
      return mode
    },
    get accepted() {
      return accepted
    },
    get openConnections() {
      return links.size
    },
    get bytesFromClients() {
      return bytesFromClients
    },
    get bytesFromTarget() {
      return bytesFromTarget
    },
    get statements() {
      return statements
    },
    setMode(next) {
      if (closed) throw new Error('fault proxy is closed')
      mode = next
      if (next === 'refuse') {
        stopListening()
        for (const link of [...links]) finish(link, false)
        return
      }
      // Back from refuse: listen again on the same port so URLs handed out stay valid.
      if (!listener) listen(port)
      if (next === 'reset') for (const link of [...links]) finish(link, true)
      else if (next === 'close') for (const link of [...links]) finish(link, false)
      else if (next !== 'blackhole') {
        for (const link of [...links]) {
          if (link.upstreamState === 'none') connectUpstream(link)
          pump(link, link.toUpstream)
          pump(link, link.toClient)
        }
      }
    },
    proxiedUrl(url) {
      const u = new URL(url)
      u.hostname = HOST
      u.port = String(port)
      return u.toString()
    },
    async close() {
      if (closed) return
      closed = true
      stopListening()
      for (const link of [...links]) finish(link, true)
    },
  }
  return proxy
}
