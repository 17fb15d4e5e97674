// Raw baseline for the "remote database" round trips: Bun.serve + postgres.js, no framework, and the
// least a request can cost the database: one `select` (one round trip) per request, on a pool of the
// server's size with the same prepare/statement_timeout settings as pg-notes.ts. Through the fault
// proxy with a delay it must come out at one round trip: that proves the method.
//   GET /   select 1 → {"one":1}
import postgres from 'postgres'
import { listenPort } from '../lib/raw-http.ts'

const url = process.env.DATABASE_URL
if (!url) throw new Error('DATABASE_URL is required')

const sql = postgres(url, {
  max: Number(process.env.DATABASE_POOL_SIZE ?? 10),
  connect_timeout: 5,
  idle_timeout: 30,
  prepare: true,
  connection: { statement_timeout: Number(process.env.DB_STATEMENT_TIMEOUT_MS ?? 15_000) },
  onnotice: () => {},
})

Bun.serve({
  port: listenPort(),
  hostname: '127.0.0.1',
  development: false,
  async fetch() {
    const [row] = await sql<{ one: number }[]>`select 1 as one`
    return Response.json(row)
  },
})
