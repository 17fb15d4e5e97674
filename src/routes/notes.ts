// /api/v1/notes: each user's private notes, an owned resource (routes/owned-routes.ts) of the
// notes table (src/db/tables.ts).
import { z } from 'zod'
import { notes } from '../db/tables.ts'
import { storableText } from '../validation.ts'
import type { OwnedRoutesDefinition } from './owned-routes.ts'

const NOTE_TITLE_MAX = 200
/** The JSON body limit (1 MiB) is the real bound; this keeps the text itself under it. */
const NOTE_BODY_MAX = 1_000_000

export const NOTES: OwnedRoutesDefinition<typeof notes> = {
  table: notes,
  fields: {
    title: storableText(z.string().trim().min(1, 'must not be empty').max(NOTE_TITLE_MAX, `must be at most ${NOTE_TITLE_MAX} characters`)),
    body: storableText(z.string().max(NOTE_BODY_MAX, `must be at most ${NOTE_BODY_MAX} characters`)),
  },
  // over them a create answers 409 or 413 (checked as OwnedUsageCache says)
  limits: {
    of: (config) => ({ maxCount: config.notes.maxPerUser, maxBytes: config.notes.maxBytesPerUser }),
    settings: { count: 'NOTES_MAX_PER_USER', bytes: 'NOTES_MAX_BYTES_PER_USER' },
  },
  description: "Each user's private notes",
  examples: {
    create: { title: 'Groceries', body: 'milk, eggs' },
    invalid: { title: '', body: 'no title' },
    patch: { title: 'Groceries for Sunday' },
  },
}
