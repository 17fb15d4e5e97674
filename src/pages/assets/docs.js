// /docs: "Try it" fills the form from an operation; Send sends the request from this page (same
// origin) with the pasted token, and shows the status and the answer.
'use strict'
;(() => {
  const form = document.getElementById('tryit-form')
  const status = document.getElementById('tryit-status')
  const output = document.getElementById('tryit-response')

  document.addEventListener('click', (event) => {
    const button = event.target.closest('button.try')
    if (!button) return
    form.elements.method.value = button.dataset.method
    form.elements.path.value = button.dataset.path
    form.elements.body.value = button.dataset.body || ''
    form.elements.path.focus()
  })

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const method = form.elements.method.value
    const path = form.elements.path.value.trim()
    const token = form.elements.token.value.trim()
    const body = form.elements.body.value.trim()
    if (!path.startsWith('/')) {
      status.textContent = 'The path must start with /'
      return
    }
    const headers = { Accept: 'application/json' }
    if (token) headers.Authorization = `Bearer ${token}`
    const withBody = body !== '' && method !== 'GET'
    if (withBody) headers['Content-Type'] = 'application/json'
    status.textContent = `${method} ${path} …`
    output.textContent = ''
    try {
      const res = await fetch(path, { method, headers, body: withBody ? body : undefined, cache: 'no-store' })
      const text = await res.text()
      status.textContent = `${method} ${path} → ${res.status}`
      status.dataset.status = String(res.status)
      try {
        output.textContent = JSON.stringify(JSON.parse(text), null, 2)
      } catch {
        output.textContent = text
      }
    } catch (err) {
      status.textContent = `${method} ${path} failed: ${err.message}`
      status.dataset.status = '0'
    }
  })
})()
