/** @jsxImportSource hono/jsx */
// GET / — the Space's front door. The #live section is everything that changes; status.js fetches
// the page again every few seconds and swaps that section in. The admin section is static markup that
// status.js brings to life after a sign-in; without JavaScript it says so and the page refreshes by
// <meta refresh>.
import { page } from './layout.tsx'
import { durationWords, type StatusView } from './status-model.ts'
import { LatencyChart, ModeChanges, ModeTimeline } from './timeline-svg.tsx'

const HEALTH_WORDS = { healthy: 'healthy', degraded: 'degraded', unhealthy: 'unhealthy' } as const

function Fact({ label, value, id, detail }: { label: string; value: string; id: string; detail?: string }) {
  return (
    <div class="fact" id={id}>
      <dt>{label}</dt>
      <dd>
        <strong>{value}</strong>
        {detail ? <span class="detail">{detail}</span> : null}
      </dd>
    </div>
  )
}

function Setup({ setup }: { setup: NonNullable<StatusView['setup']> }) {
  return (
    <section class="card setup" id="setup">
      <h2>Finish the setup: no account is declared</h2>
      <p>
        Nobody can sign in yet. Set these as <strong>secrets</strong> of the Space (Settings → Variables and secrets → New
        secret), then restart it:
      </p>
      <ul class="secrets">
        {setup.secrets.map((s) => (
          <li>
            <code>{s.name}</code> <span class={s.set ? 'ok' : 'missing'}>{s.set ? 'set' : 'not set'}</span> — {s.why}
          </li>
        ))}
      </ul>
      <p>
        {setup.readmeUrl ? (
          <a href={setup.readmeUrl} target="_blank" rel="noopener noreferrer">
            README: Declaring accounts (Hugging Face Space secrets)
          </a>
        ) : (
          <span>
            See <code>README.md</code>, section “Declaring accounts (Hugging Face Space secrets)”.
          </span>
        )}
      </p>
    </section>
  )
}

export function LiveStatus({ view }: { view: StatusView }) {
  return (
    <section id="live" data-database={view.database} data-mode={view.mode} data-primary={view.primary}>
      <div class={`banner ${view.database}`}>
        <span class="label">Serving from</span>
        <span class="serving" id="serving">
          {view.serving}
        </span>
        <span class={`health ${view.health}`}>{HEALTH_WORDS[view.health]}</span>
      </div>
      <dl class="facts">
        <Fact id="fact-mode" label="Mode" value={view.mode} detail={view.modeWords} />
        <Fact
          id="fact-primary"
          label="Primary (PostgreSQL)"
          value={view.primary}
          detail={view.primaryCheckedAt ? `${view.primaryWords}; last checked ${view.primaryCheckedAt}` : view.primaryWords}
        />
        <Fact
          id="fact-outbox"
          label="Outbox"
          value={`${view.outboxPending} pending`}
          detail={view.outboxPending > 0 ? 'writes waiting to be replayed into PostgreSQL, kept only on this disk' : 'nothing waits for PostgreSQL'}
        />
        {view.replicaLagMs !== null ? <Fact id="fact-replica" label="Replica lag" value={`${view.replicaLagMs} ms`} /> : null}
        <Fact id="fact-uptime" label="Uptime" value={durationWords(view.uptimeS)} />
        <Fact id="fact-version" label="Version" value={view.version} />
      </dl>
      {view.warnings.length > 0 ? (
        <ul class="warnings">
          {view.warnings.map((w) => (
            <li>{w}</li>
          ))}
        </ul>
      ) : null}
      <section class="card">
        <h2>Last 24 hours</h2>
        <ModeTimeline history={view.history} />
        <p class="legend">
          <span class="key m-primary" /> primary <span class="key m-recovering" /> recovering <span class="key m-fallback" /> fallback{' '}
          <span class="key m-none" /> before this process started
        </p>
        <ModeChanges history={view.history} />
        <LatencyChart history={view.history} />
        <p class="legend">
          <span class="key probe-ok" /> primary probe latency, average per minute <span class="key probe-failed" /> a failed probe
        </p>
      </section>
      {view.setup ? <Setup setup={view.setup} /> : null}
    </section>
  )
}

function AdminPanel() {
  return (
    <section class="card" id="admin">
      <h2>Administration</h2>
      <noscript>
        <p>Signing in needs JavaScript; the status above refreshes by itself without it.</p>
      </noscript>
      <form id="signin" hidden>
        <label>
          Email <input name="email" type="email" autocomplete="username" required />
        </label>
        <label>
          Password <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit">Sign in</button>
        <span class="note">The token stays in this page's memory: reloading signs you out.</span>
      </form>
      <div id="admin-area" hidden>
        <p>
          Signed in as <strong id="admin-email" />. <button type="button" id="signout">Sign out</button>{' '}
          <button type="button" id="admin-reload">Reload details</button>
        </p>
        <div class="actions" id="actions">
          <button type="button" data-action="test" data-method="POST" data-path="/api/v1/sqlite-fallback/test" data-label="test both databases">
            Test
          </button>
          <button type="button" data-action="sync" data-method="POST" data-path="/api/v1/sqlite-fallback/sync-to-primary" data-label="replay the outbox into PostgreSQL now">
            Sync now
          </button>
          <button type="button" data-action="backup" data-method="POST" data-path="/api/v1/sqlite-fallback/backup" data-label="back up the SQLite file">
            Backup
          </button>
          <button type="button" data-action="to-fallback" data-method="POST" data-path="/api/v1/sqlite-fallback/switch-to-fallback" data-label="switch to the SQLite fallback (it stays there until switched back)">
            Switch to fallback
          </button>
          <button type="button" data-action="to-primary" data-method="POST" data-path="/api/v1/sqlite-fallback/switch-to-primary" data-label="switch to PostgreSQL (replays the outbox first)">
            Switch to primary
          </button>
        </div>
        <div id="confirm" class="confirm" hidden>
          <span id="confirm-text" /> <button type="button" id="confirm-yes">Yes, do it</button>{' '}
          <button type="button" id="confirm-no">Cancel</button>
        </div>
        <div id="result" class="result" hidden>
          <h3 id="result-title" />
          <pre id="result-body" />
        </div>
        <h3>Fallback status</h3>
        <pre id="admin-status" />
        <h3>Database configuration</h3>
        <pre id="admin-config" />
        <h3>Sync conflicts</h3>
        <pre id="admin-conflicts" />
      </div>
      <p id="admin-message" class="message" role="status" />
    </section>
  )
}

export function statusPage(view: StatusView, refreshS: number) {
  return page({
    title: `${view.serving} · status`,
    script: 'status.js',
    refreshWithoutScriptS: refreshS,
    children: (
      <main data-refresh-s={refreshS} id="page">
        <header class="top">
          <h1>Hono Failover API</h1>
          <nav>
            <a href="/docs">API docs</a> · <a href="/openapi.json">OpenAPI</a> · <a href="/health">/health</a>
          </nav>
        </header>
        <LiveStatus view={view} />
        <AdminPanel />
        <footer>
          Refreshes every {refreshS} s · <span id="refreshed">rendered on the server</span>
        </footer>
      </main>
    ),
  })
}
