// What a mounted middleware tells the OpenAPI generator about the routes it guards: the validators
// carry the zod schema they validate with, the guards the access they demand; a handler made from a
// definition (owned routes) carries its operation's words, made from that same definition. The
// generator reads these off the handlers of `app.routes`, so the document describes exactly what the
// server checks.
import type { z } from 'zod'
import type { OperationDoc, TagDoc } from './operation-doc.ts'

export type ValidatedTarget = 'json' | 'query' | 'param'
export type Guard = 'bearer' | 'optional-bearer' | { role: string } | 'json-content-type'

const VALIDATES = Symbol('validates')
const GUARDS = Symbol('guards')
const DOCUMENTS = Symbol('documents')

/** an operation's words and the tag it is listed under */
export interface RouteDoc {
  operation: OperationDoc
  tag: TagDoc
}

type Tagged = { [VALIDATES]?: { target: ValidatedTarget; schema: z.ZodType }; [GUARDS]?: Guard; [DOCUMENTS]?: RouteDoc }

export function validates<T extends object>(handler: T, target: ValidatedTarget, schema: z.ZodType): T {
  return Object.assign(handler, { [VALIDATES]: { target, schema } })
}

export function guards<T extends object>(handler: T, guard: Guard): T {
  return Object.assign(handler, { [GUARDS]: guard })
}

export function documents<T extends object>(handler: T, doc: RouteDoc): T {
  return Object.assign(handler, { [DOCUMENTS]: doc })
}

export const validationOf = (handler: unknown): { target: ValidatedTarget; schema: z.ZodType } | undefined =>
  (handler as Tagged | null)?.[VALIDATES]

export const guardOf = (handler: unknown): Guard | undefined => (handler as Tagged | null)?.[GUARDS]

export const docOf = (handler: unknown): RouteDoc | undefined => (handler as Tagged | null)?.[DOCUMENTS]
