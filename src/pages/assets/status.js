// The status page's script: refreshes the live section every few seconds, and gives an admin the
// fallback controls after a sign-in. The access token lives in this closure only: never in storage,
// never in a cookie; reloading the page forgets it.
'use strict'
;(() => {
  const main = document.getElementById('page')
  const refreshMs = Math.max(1, Number(main.dataset.refreshS) || 5) * 1000
  const $ = (id) => document.getElementById(id)
  let refreshes = 0
  let timer = null

  // ---- refresh: fetch this page again and swap in its #live section ----
  async function refresh() {
    clearTimeout(timer)
    try {
      const res = await fetch(location.pathname + location.search, { cache: 'no-store', headers: { Accept: 'text/html' } })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html')
      const next = doc.getElementById('live')
      if (!next) throw new Error('no status in the answer')
      $('live').replaceWith(document.adoptNode(next))
      document.title = doc.title
      refreshes++
      document.body.dataset.refreshes = String(refreshes)
      $('refreshed').textContent = `last refreshed ${new Date().toLocaleTimeString()}`
      $('refreshed').classList.remove('error')
    } catch (err) {
      $('refreshed').textContent = `could not refresh (${err.message}); retrying`
      $('refreshed').classList.add('error')
    } finally {
      timer = setTimeout(refresh, refreshMs)
    }
  }
  document.body.dataset.refreshes = '0'
  timer = setTimeout(refresh, refreshMs)

  // ---- admin ----
  let token = null
  let pending = null
  const message = (text, isError) => {
    $('admin-message').textContent = text
    $('admin-message').classList.toggle('error', Boolean(isError))
  }
  const show = (id, visible) => {
    $(id).hidden = !visible
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' }
    if (token) headers.Authorization = `Bearer ${token}`
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
    const text = await res.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      json = text
    }
    return { status: res.status, ok: res.ok, body: json }
  }

  const errorText = (r) => (r.body && r.body.error ? `${r.body.error.code}: ${r.body.error.message}` : `HTTP ${r.status}`)

  function signedOut(text, isError) {
    token = null
    pending = null
    show('admin-area', false)
    show('confirm', false)
    show('signin', true)
    message(text || '', isError)
  }

  async function loadDetails() {
    const [status, config, conflicts] = await Promise.all([
      api('GET', '/api/v1/sqlite-fallback/status'),
      api('GET', '/config/database'),
      api('GET', '/api/v1/sqlite-fallback/conflicts'),
    ])
    if ([status, config, conflicts].some((r) => r.status === 401)) return signedOut('Your session ended; sign in again.', true)
    $('admin-status').textContent = status.ok ? JSON.stringify(status.body, null, 2) : errorText(status)
    $('admin-config').textContent = config.ok ? JSON.stringify(config.body, null, 2) : errorText(config)
    $('admin-conflicts').textContent = conflicts.ok
      ? conflicts.body.items.length === 0
        ? 'none recorded'
        : JSON.stringify(conflicts.body.items, null, 2)
      : errorText(conflicts)
  }

  $('signin').hidden = false
  $('signin').addEventListener('submit', async (event) => {
    event.preventDefault()
    const form = event.currentTarget
    const email = form.elements.email.value
    const password = form.elements.password.value
    message('Signing in…')
    const r = await api('POST', '/api/v1/auth/login', { email, password })
    form.elements.password.value = ''
    if (!r.ok) return message(`Sign-in failed: ${errorText(r)}`, true)
    token = r.body.access_token
    if (r.body.user.role !== 'admin') {
      await api('POST', '/api/v1/auth/logout')
      return signedOut('Signed in, but this account is not an admin: nothing more to show.', true)
    }
    $('admin-email').textContent = r.body.user.email
    show('signin', false)
    show('admin-area', true)
    message('')
    await loadDetails()
  })

  $('signout').addEventListener('click', async () => {
    await api('POST', '/api/v1/auth/logout').catch(() => undefined)
    signedOut('Signed out.')
  })
  $('admin-reload').addEventListener('click', () => loadDetails())

  $('actions').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]')
    if (!button) return
    pending = button
    $('confirm-text').textContent = `Really ${button.dataset.label}?`
    show('confirm', true)
    $('confirm-yes').focus()
  })
  $('confirm-no').addEventListener('click', () => {
    pending = null
    show('confirm', false)
  })
  $('confirm-yes').addEventListener('click', async () => {
    const button = pending
    pending = null
    show('confirm', false)
    if (!button || !token) return
    $('result-title').textContent = `${button.textContent.trim()}: running…`
    $('result-body').textContent = ''
    show('result', true)
    const r = await api(button.dataset.method, button.dataset.path)
    if (r.status === 401) return signedOut('Your session ended; sign in again.', true)
    $('result').classList.toggle('error', !r.ok)
    $('result-title').textContent = `${button.textContent.trim()}: ${r.ok ? 'done' : 'failed'} (HTTP ${r.status})`
    $('result-body').textContent = JSON.stringify(r.body, null, 2)
    await Promise.all([loadDetails(), refresh()])
  })
})()
