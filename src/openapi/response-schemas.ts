// The shapes the API answers with, as zod schemas: /openapi.json documents them, and the OpenAPI test
// parses real answers with them, so a document that drifts from the server fails a test.
import { z } from 'zod'
import { ERROR_STATUS, type ErrorCode } from '../errors.ts'

const isoTime = z.iso.datetime({ offset: true })
const id = z.uuid()

/** `{"error": {code, message, details?, request_id}}` with `codes` as the possible codes */
export const errorSchema = (codes: readonly ErrorCode[]) =>
  z.strictObject({
    error: z.strictObject({
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      details: z.unknown().optional().describe('for validation_error: a list of {field, message}'),
      request_id: z.string().describe('the X-Request-Id of the response'),
    }),
  })
export const anyError = errorSchema(Object.keys(ERROR_STATUS) as ErrorCode[])

export const userSchema = z.strictObject({
  id,
  email: z.string(),
  name: z.string().nullable(),
  role: z.enum(['admin', 'user']),
  disabled: z.boolean(),
  created_at: isoTime,
  updated_at: isoTime,
})
export const userEnvelope = z.strictObject({ user: userSchema })

export const tokenPairSchema = z.strictObject({
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int().describe('seconds until the access token expires'),
  user: z.strictObject({ id, email: z.string(), name: z.string().nullable(), role: z.enum(['admin', 'user']) }),
})

/** a row of an owned resource (routes/owned-routes.ts) with text `fields`, as its routes answer with it */
export const ownedRowSchema = (fields: readonly string[]) =>
  z.strictObject({
    id,
    ...Object.fromEntries(fields.map((f) => [f, z.string()])),
    created_at: isoTime,
    updated_at: isoTime,
    version: z.number().int(),
  })
export const page = <T extends z.ZodType>(item: T) => z.strictObject({ items: z.array(item), next_cursor: id.nullable() })
export const userPage = page(userSchema)
export const auditPage = page(
  z.strictObject({
    id,
    at: isoTime,
    action: z.string(),
    actor_id: id.nullable(),
    target_id: id.nullable(),
    ip: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
  }),
)

const mode = z.enum(['primary', 'fallback', 'recovering'])
const databaseType = z.enum(['postgresql', 'sqlite'])

export const healthSchema = z
  .object({
    status: z.enum(['healthy', 'degraded', 'unhealthy']),
    timestamp: isoTime,
    database_status: z.enum(['connected', 'disconnected']),
    database_type: databaseType,
    fallback_active: z.boolean(),
    fallback_persistent: z.boolean(),
    mode,
    primary: z
      .object({
        configured: z.boolean(),
        status: z.enum(['up', 'down', 'unconfigured']),
        idle: z.boolean().describe('primary mode and no database-bound request for DATABASE_IDLE_AFTER: PostgreSQL is sent nothing'),
        checked_at: isoTime.nullable().describe('when PostgreSQL last answered'),
        last_error: z.string().nullable().optional().describe("admins only: why the primary cannot be used, in words"),
      })
      .loose(),
    outbox_pending: z.number().int(),
    replica: z
      .object({
        configured: z.boolean(),
        target: z.string().nullable().optional(),
        lag_ms: z.number().nullable().optional(),
        last_upload_at: isoTime.nullable().optional(),
        pending_segments: z.number().int().optional(),
        last_error: z.string().nullable().optional(),
      })
      .loose(),
    uptime_s: z.number().int(),
    version: z.string(),
    warnings: z.array(z.string()),
  })
  .loose()
export const liveSchema = z.strictObject({ status: z.literal('alive'), uptime_s: z.number().int() })
export const readySchema = z.strictObject({ status: z.literal('ready'), database_type: databaseType })

export const configDatabaseSchema = z
  .object({
    database_type: databaseType,
    mode,
    fallback_enabled: z.boolean(),
    fallback_active: z.boolean(),
    primary: z
      .object({
        configured: z.boolean(),
        source: z.string().nullable(),
        pool_size: z.number().int(),
        connect_timeout_s: z.number(),
        statement_timeout_ms: z.number().int(),
        ssl: z.string(),
      })
      .loose()
      .describe('admins also see url (redacted), host, port, database, status, last_error, last_probe_at'),
    fallback: z.object({ journal_mode: z.string() }).loose().describe('admins also see path and persistent'),
  })
  .loose()

export const fallbackStatusSchema = z
  .object({
    mode,
    database_type: databaseType,
    fallback_active: z.boolean(),
    pinned_to_fallback: z.boolean(),
    primary: z.object({ configured: z.boolean(), status: z.string(), last_error: z.string().nullable(), last_probe_at: isoTime.nullable() }).loose(),
    fallback: z.object({ ok: z.boolean(), persistent: z.boolean(), journal_mode: z.string() }).loose(),
    outbox_pending: z.number().int(),
    last_failover_at: isoTime.nullable(),
    last_recovery_at: isoTime.nullable(),
    open_conflicts: z.number().int(),
  })
  .loose()

const probe = z.strictObject({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional() })
export const replicaStatusSchema = z
  .object({
    configured: z.literal(true),
    target: z.string().describe('where the replica lives, never a credential'),
    sync: z.boolean(),
    generation: z.string().nullable(),
    lag_ms: z.number(),
    last_upload_at: isoTime.nullable(),
    last_snapshot_at: isoTime.nullable(),
    pending_segments: z.number().int(),
    pending_changes: z.number().int(),
    last_error: z.string().nullable(),
  })
  .loose()

export const testSchema = z.strictObject({ primary: probe.nullable(), fallback: probe })
export const modeSchema = z.strictObject({ mode })
export const copySchema = z.strictObject({ tables: z.record(z.string(), z.number().int()), duration_ms: z.number() })
export const syncSchema = z.strictObject({ applied: z.number().int(), conflicts: z.number().int(), remaining: z.number().int() })
export const backupSchema = z.strictObject({ file: z.string().describe('file name only'), size_bytes: z.number().int(), created_at: isoTime })
export const conflictsSchema = z.strictObject({
  items: z.array(
    z.strictObject({
      id: z.string(),
      at: isoTime,
      table: z.string(),
      row_id: z.string(),
      reason: z.string(),
      row: z.record(z.string(), z.unknown()).describe('secret columns are shown as ***'),
    }),
  ),
})

/** the OpenAPI document itself, loosely: it is checked in depth by its own test */
export const openApiSchema = z.object({ openapi: z.string(), info: z.object({}).loose(), paths: z.record(z.string(), z.unknown()) }).loose()
