/** @jsxImportSource hono/jsx */
// The HTML shell shared by the status page and the API docs: one stylesheet and at most one script,
// both served by the app (routes/page-assets.ts), nothing from anywhere else.
import type { Child } from 'hono/jsx'
import { html, raw } from 'hono/html'

export interface LayoutProps {
  title: string
  /** a file under /assets/, loaded with defer */
  script?: string
  /** seconds: a <meta refresh> for browsers without JavaScript (the script refreshes by itself) */
  refreshWithoutScriptS?: number
  children: Child
}

function Shell({ title, script, refreshWithoutScriptS, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{title}</title>
        {/* no favicon to fetch: an empty data: icon */}
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/assets/page.css" />
        {refreshWithoutScriptS ? (
          <noscript>
            <meta http-equiv="refresh" content={String(refreshWithoutScriptS)} />
          </noscript>
        ) : null}
        {script ? <script src={`/assets/${script}`} defer /> : null}
      </head>
      <body>{children}</body>
    </html>
  )
}

/** the whole document, doctype first */
export const page = (props: LayoutProps) => html`${raw('<!DOCTYPE html>')}${Shell(props)}`
