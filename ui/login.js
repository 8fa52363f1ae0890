// login.js — `/login?next=…`: the token form, shown when the API says 401.
//
// The token goes to POST /api/login as a form body; the server answers with
// an HttpOnly cookie that every later fetch and the WebSocket carry, so this
// page never stores the token itself. `next` brings the user back where the
// 401 happened; only a local path is accepted there (no open redirect).

import { el } from './el.js';
import { api } from './api.js';

function safeNext(value) {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  if (value.startsWith('/login')) return '/';
  return value;
}

export function mount(root, ctx) {
  const next = safeNext(ctx.params.get('next'));
  const token = el('input', {
    id: 'token', type: 'password', name: 'token', autocomplete: 'current-password', required: true,
    'aria-describedby': 'login-error',
  });
  const error = el('p', { id: 'login-error', class: 'error-text', role: 'alert' });
  const submit = el('button', { type: 'submit', class: 'btn primary' }, 'Log in');
  const form = el('form', { id: 'login', class: 'login-form', method: 'post', action: '/api/login' },
    el('h1', null, 'Wakeline'),
    el('p', { class: 'muted' }, 'This collector needs its access token (the --auth-token it was started with).'),
    // A username field lets password managers file the token; there is no user name.
    el('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'wakeline', hidden: true, tabIndex: -1, 'aria-hidden': 'true' }),
    el('label', { htmlFor: 'token' }, 'Access token'),
    token, error, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      await api.login(token.value);
      ctx.sessionChanged({ auth_required: true, authenticated: true });
      ctx.navigate(next, { replace: true });
    } catch (e) {
      error.textContent = e.status === 401 ? 'That token is not right.' : (e.detail || e.error || String(e));
      token.select();
    } finally {
      submit.disabled = false;
    }
  });
  root.append(el('section', { id: 'login-page', class: 'page page-scroll' }, form));
  // Already in (or no auth at all): nothing to do here.
  api.session().then((s) => {
    if (!s.auth_required || s.authenticated) {
      ctx.sessionChanged(s);
      ctx.navigate(next, { replace: true });
    } else token.focus();
  }).catch(() => token.focus());
  return () => {};
}
