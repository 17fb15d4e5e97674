// The example bodies /openapi.json shows for an owned resource, where its routes' definition gives
// none: made from the fields' own validation, so that a documented example is one the server accepts
// and the invalid one is one it refuses (test/openapi.test.ts sends both).
import type { z } from 'zod'

export interface OwnedExamples<F extends string> {
  /** a create the fields accept */
  create: Record<F, string>
  /** a create the fields refuse */
  invalid: unknown
  /** a patch the fields accept */
  patch: Partial<Record<F, string>>
}

/** the values tried for a field, in order: the first its validation accepts is its example */
const candidates = (field: string) => [`Example ${field}`, 'https://example.com/', 'someone@example.com', 'x']

export function ownedExamples<F extends string>(resource: string, fields: Record<F, z.ZodType<string, string>>, given: Partial<OwnedExamples<F>> = {}): OwnedExamples<F> {
  const names = Object.keys(fields) as F[]
  const create =
    given.create ??
    (Object.fromEntries(
      names.map((f) => {
        const value = candidates(f).find((v) => fields[f].safeParse(v).success)
        // a fork's field no candidate passes (a pattern, say): its definition says what to show
        if (value === undefined) throw new Error(`${resource}: no example value passes the validation of ${f}; give examples.create in its routes' definition`)
        return [f, value]
      }),
    ) as Record<F, string>)
  const [first] = names as [F, ...F[]]
  // without its first field a create is refused: every field is required
  const { [first]: _, ...withoutFirst } = create
  return { create, invalid: given.invalid ?? withoutFirst, patch: given.patch ?? ({ [first]: create[first] } as Partial<Record<F, string>>) }
}
