// A fork's own owned resource, as README "Add your own resource" defines it (in a fork: in
// src/db/tables.ts, listed in TABLES after users): the table the own-resource and OpenAPI tests mount.
import { defineTable, lastWriterWins } from '../../src/db/tables.ts'

export const bookmarks = defineTable({
  name: 'bookmarks',
  key: 'id',
  owner: 'owner_id',
  searchable: ['title', 'url'],
  rowName: 'bookmark',
  columns: {
    id: { kind: 'id' },
    owner_id: { kind: 'id', references: 'users' },
    title: { kind: 'text' },
    url: { kind: 'text' },
    search_text: { kind: 'text' },
    created_at: { kind: 'timestamp' },
    updated_at: { kind: 'timestamp' },
    version: { kind: 'integer' },
    deleted_at: { kind: 'timestamp', nullable: true },
  },
  merge: lastWriterWins('deleted_at'),
  indexes: [{ name: 'bookmarks_owner_id', columns: ['owner_id', 'id'] }],
})
