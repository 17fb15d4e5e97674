// What the handlers cannot say about themselves: a summary, the success answer, the errors their own
// code throws, and example bodies. Parameters, request bodies, security and the errors of validators
// and guards come from the mounted middleware (document.ts). A mounted route missing here, or an
// entry here for a route that is not mounted, fails the OpenAPI test.
import { logoutBody } from '../routes/auth.ts'
import type { ErrorCode } from '../errors.ts'
import type { OperationDoc, TagDoc } from './operation-doc.ts'
import * as s from './response-schemas.ts'

export type Tag = 'status' | 'health' | 'auth' | 'admin' | 'fallback' | 'docs'

export const TAGS: Array<TagDoc<Tag>> = [
  { name: 'status', description: 'The status page: the HTML front door of the server' },
  { name: 'health', description: 'Probes for load balancers and monitors; /health is served from memory' },
  { name: 'auth', description: 'Sign in, tokens, your own account' },
  { name: 'admin', description: 'User management and the audit trail (admin role)' },
  { name: 'fallback', description: 'See and steer the PostgreSQL → SQLite failover by hand (admin role)' },
  { name: 'docs', description: 'This document and its readable form' },
]
/** where the tags of owned resources (notes, a fork's own; named by their definitions) are listed */
export const OWNED_TAGS_AFTER: Tag = 'auth'

const JSON_DB: ErrorCode[] = ['unavailable']
const UUID = '0190d5e6-1a2b-7c3d-8e4f-5a6b7c8d9e0f'
const REFRESH_TOKEN = 'q2Vb1y3dF0kqgC2mO7hQ0m1pU3rT8sW6xY9zA4bC5dE'

export const OPERATIONS: Record<string, OperationDoc<Tag>> = {
  'GET /': {
    tag: 'status',
    summary: 'Status page (HTML)',
    description:
      'Which database serves, the mode, the primary, the outbox, uptime and version, and the last 24 hours as SVG. Read from memory like /health: it never queries a database. Frameable by https://huggingface.co.',
    ok: { status: 200, description: 'the page', contentType: 'text/html' },
  },
  'GET /assets/:file': {
    tag: 'status',
    summary: 'Stylesheet and scripts of the HTML pages',
    ok: { status: 200, description: 'page.css, status.js or docs.js', contentType: 'text/javascript' },
    errors: ['not_found'],
  },
  'GET /docs': { tag: 'docs', summary: 'API documentation (HTML), built from /openapi.json', ok: { status: 200, description: 'the page', contentType: 'text/html' } },
  'GET /openapi.json': { tag: 'docs', summary: 'This OpenAPI 3.1 document', ok: { status: 200, description: 'the document', schema: s.openApiSchema } },

  'GET /health': {
    tag: 'health',
    summary: 'Health, from the monitor\'s last probe',
    description: '503 with status "unhealthy" only when no database can serve.',
    ok: { status: 200, description: 'healthy or degraded', schema: s.healthSchema },
  },
  'GET /health/live': { tag: 'health', summary: 'Liveness (no I/O)', ok: { status: 200, description: 'alive', schema: s.liveSchema } },
  'GET /health/ready': {
    tag: 'health',
    summary: 'Readiness: does the active database answer?',
    ok: { status: 200, description: 'ready', schema: s.readySchema },
    errors: ['unavailable'],
  },
  'GET /config/database': {
    tag: 'health',
    summary: 'What the server runs on; more for admins, never a password',
    ok: { status: 200, description: 'the database configuration', schema: s.configDatabaseSchema },
  },

  'POST /api/v1/auth/register': {
    tag: 'auth',
    summary: 'Create an account (only with ALLOW_REGISTRATION=true)',
    ok: { status: 201, description: 'the new user', schema: s.userEnvelope },
    errors: ['forbidden', 'conflict', ...JSON_DB],
    example: { email: 'new.user@example.com', password: 'a long passphrase', name: 'New User' },
    invalidExample: { email: 'not an email', password: 'short' },
  },
  'POST /api/v1/auth/login': {
    tag: 'auth',
    summary: 'Sign in: an access token and a refresh token',
    ok: { status: 200, description: 'the token pair', schema: s.tokenPairSchema },
    errors: ['invalid_credentials', 'rate_limited', ...JSON_DB],
    example: { email: 'admin@example.com', password: 'correct horse battery staple' },
    invalidExample: { email: 'admin@example.com' },
  },
  'POST /api/v1/auth/refresh': {
    tag: 'auth',
    summary: 'Trade a refresh token for a new pair (the old one is spent)',
    description: 'A refresh token used twice ends every session of its account.',
    ok: { status: 200, description: 'the new token pair', schema: s.tokenPairSchema },
    errors: ['unauthorized', ...JSON_DB],
    example: { refresh_token: REFRESH_TOKEN },
    invalidExample: { refresh_token: 'not-a-refresh-token' },
  },
  'POST /api/v1/auth/logout': {
    tag: 'auth',
    summary: 'End this session (and the one of a refresh token you give)',
    ok: { status: 204, description: 'signed out' },
    body: { schema: logoutBody, required: false },
    errors: ['validation_error', 'unsupported_media_type', ...JSON_DB],
    example: { refresh_token: REFRESH_TOKEN },
    invalidExample: { refresh_token: 42 },
  },
  'GET /api/v1/auth/me': { tag: 'auth', summary: 'Your account', ok: { status: 200, description: 'you', schema: s.userEnvelope }, errors: [...JSON_DB] },
  'POST /api/v1/auth/password': {
    tag: 'auth',
    summary: 'Change your password; ends your other sessions',
    ok: { status: 204, description: 'changed' },
    errors: ['invalid_credentials', 'rate_limited', ...JSON_DB],
    example: { current_password: 'correct horse battery staple', new_password: 'an even longer passphrase' },
    invalidExample: { current_password: 'x', new_password: 'short' },
  },

  'GET /api/v1/admin/users': { tag: 'admin', summary: 'Every user, paged', ok: { status: 200, description: 'a page', schema: s.userPage }, errors: [...JSON_DB] },
  'POST /api/v1/admin/users': {
    tag: 'admin',
    summary: 'Create a user',
    ok: { status: 201, description: 'the user', schema: s.userEnvelope },
    errors: ['conflict', ...JSON_DB],
    example: { email: 'colleague@example.com', password: 'a long passphrase', name: 'Colleague', role: 'user' },
    invalidExample: { email: 'colleague@example.com', password: 'a long passphrase', role: 'owner' },
  },
  'GET /api/v1/admin/users/:id': { tag: 'admin', summary: 'One user', ok: { status: 200, description: 'the user', schema: s.userEnvelope }, errors: ['not_found', ...JSON_DB] },
  'PATCH /api/v1/admin/users/:id': {
    tag: 'admin',
    summary: 'Change a user\'s name, role, password or disabled flag',
    ok: { status: 200, description: 'the user', schema: s.userEnvelope },
    errors: ['not_found', 'conflict', ...JSON_DB],
    example: { name: 'Renamed', disabled: false },
    invalidExample: { disabled: 'yes' },
  },
  'DELETE /api/v1/admin/users/:id': { tag: 'admin', summary: 'Disable a user (never erased)', ok: { status: 204, description: 'disabled' }, errors: ['not_found', 'conflict', ...JSON_DB] },
  'GET /api/v1/admin/audit': { tag: 'admin', summary: 'Audit events, newest first, paged', ok: { status: 200, description: 'a page', schema: s.auditPage }, errors: [...JSON_DB] },

  'GET /api/v1/sqlite-fallback/status': {
    tag: 'fallback',
    summary: 'Mode, both databases, the outbox, last failover and recovery, open conflicts',
    ok: { status: 200, description: 'the failover status', schema: s.fallbackStatusSchema },
    errors: [...JSON_DB],
  },
  'POST /api/v1/sqlite-fallback/test': { tag: 'fallback', summary: 'Probe both databases now', ok: { status: 200, description: 'both probes', schema: s.testSchema } },
  'POST /api/v1/sqlite-fallback/switch-to-fallback': {
    tag: 'fallback',
    summary: 'Serve from SQLite until switched back',
    ok: { status: 200, description: 'the mode now', schema: s.modeSchema },
    errors: [...JSON_DB],
  },
  'POST /api/v1/sqlite-fallback/switch-to-primary': {
    tag: 'fallback',
    summary: 'Replay the outbox, then serve from PostgreSQL',
    ok: { status: 200, description: 'the mode now', schema: s.modeSchema },
    errors: ['unavailable'],
  },
  'POST /api/v1/sqlite-fallback/migrate-from-primary': {
    tag: 'fallback',
    summary: 'Copy PostgreSQL into the SQLite fallback',
    ok: { status: 200, description: 'rows copied per table', schema: s.copySchema },
    errors: ['conflict', 'unavailable'],
  },
  'POST /api/v1/sqlite-fallback/sync-to-primary': {
    tag: 'fallback',
    summary: 'Replay the outbox into PostgreSQL now',
    ok: { status: 200, description: 'what was replayed', schema: s.syncSchema },
    errors: ['unavailable'],
  },
  'POST /api/v1/sqlite-fallback/backup': {
    tag: 'fallback',
    summary: 'Back up the SQLite file (VACUUM INTO)',
    ok: { status: 200, description: 'the backup', schema: s.backupSchema },
    errors: [...JSON_DB],
  },
  'DELETE /api/v1/sqlite-fallback/cleanup': {
    tag: 'fallback',
    summary: 'Remove the fallback file (and start a fresh copy)',
    ok: { status: 204, description: 'removed' },
    errors: ['conflict', ...JSON_DB],
  },
  'GET /api/v1/sqlite-fallback/conflicts': {
    tag: 'fallback',
    summary: 'Recorded sync conflicts (secrets masked)',
    ok: { status: 200, description: 'the conflicts', schema: s.conflictsSchema },
    errors: [...JSON_DB],
  },
  'GET /api/v1/sqlite-fallback/replica': {
    tag: 'fallback',
    summary: 'The continuous replica of the SQLite file: target, lag, segments, last error',
    ok: { status: 200, description: 'the replica', schema: s.replicaStatusSchema },
    errors: ['not_found'],
  },
  'POST /api/v1/sqlite-fallback/replica/sync': {
    tag: 'fallback',
    summary: 'Ship the pending changes to the replica now',
    ok: { status: 200, description: 'the replica after the upload', schema: s.replicaStatusSchema },
    errors: ['not_found', 'unavailable'],
  },
  'POST /api/v1/sqlite-fallback/replica/snapshot': {
    tag: 'fallback',
    summary: 'Upload a new snapshot now (older segments are deleted after it)',
    ok: { status: 200, description: 'the replica after the snapshot', schema: s.replicaStatusSchema },
    errors: ['not_found', 'unavailable'],
  },
}

/** an id for path parameters in examples and tests */
export const EXAMPLE_ID = UUID
