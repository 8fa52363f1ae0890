// app.js — the shell: router, links, theme, session, keyboard.
//
// Every page is a deep link: the path picks the page module and the query
// string holds all of its state, so a page renders from the URL alone and
// back/forward are just another render. Page modules export
// `mount(root, ctx)` and return a function that releases what they hold
// (sockets, observers, timers). Links inside the app are intercepted and
// become history.pushState; the server answers every such path with
// index.html, so a reload lands on the same view.

import { el } from './el.js';
import { api, onUnauthorized } from './api.js';
import { selectRow, toggleRow } from './row.js';
import * as live from './live.js';
import * as search from './search.js';
import * as request from './request.js';
import * as containers from './containers.js';
import * as login from './login.js';

const root = document.getElementById('app');
let dispose = null;
let session = { auth_required: false, authenticated: true };

function route(path) {
  if (path === '/' || path === '') return { page: live, nav: 'live', title: 'Live' };
  if (path === '/search') return { page: search, nav: 'search', title: 'Search' };
  if (path === '/containers') return { page: containers, nav: 'containers', title: 'Containers' };
  if (path === '/login') return { page: login, nav: null, title: 'Log in' };
  const m = /^\/requests\/(.+)$/.exec(path);
  if (m) {
    let id;
    try { id = decodeURIComponent(m[1]); } catch { id = m[1]; }
    return { page: request, nav: null, title: `Request ${id}`, id };
  }
  return { page: null, nav: null, title: 'Not found' };
}

function notFound(rootEl) {
  rootEl.append(el('section', { class: 'page-msg' },
    el('h1', null, 'No such page'),
    el('p', null, 'Try ', el('a', { href: '/' }, 'Live'), ', ', el('a', { href: '/search' }, 'Search'),
      ' or ', el('a', { href: '/containers' }, 'Containers'), '.')));
}

/** Goes to `href` (a path with query) and renders it. */
export function navigate(href, { replace = false } = {}) {
  const url = new URL(href, location.origin);
  if (url.origin !== location.origin) { location.assign(href); return; }
  const target = url.pathname + url.search + url.hash;
  if (replace) history.replaceState(null, '', target);
  else if (target !== location.pathname + location.search + location.hash) history.pushState(null, '', target);
  render();
}

function render() {
  const focusedId = document.activeElement?.id;
  if (dispose) { try { dispose(); } catch (e) { console.error(e); } dispose = null; }
  const url = new URL(location.href);
  const r = route(url.pathname);
  document.title = `${r.title} — Wakeline`;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === r.nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  root.replaceChildren();
  if (!r.page) { notFound(root); return; }
  const ctx = {
    url,
    params: url.searchParams,
    id: r.id,
    session,
    sessionChanged,
    navigate,
    /** Same page, new query string (an object of non-empty values). */
    setParams(params, opts) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') qs.set(k, v);
      const s = qs.toString();
      navigate(url.pathname + (s ? `?${s}` : ''), opts);
    },
  };
  dispose = r.page.mount(root, ctx) || null;
  // A form submit re-renders the page: keep the caret where the user was.
  if (focusedId && focusedId !== 'app') {
    const again = document.getElementById(focusedId);
    if (again && again !== document.activeElement && again.matches('input, select, textarea')) again.focus();
  }
}

// ------------------------------------------------------------------ links

document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target instanceof Element ? event.target.closest('a[href]') : null;
  if (!a || a.target || a.hasAttribute('download')) return;
  const href = a.getAttribute('href');
  if (href.startsWith('#')) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin) return;
  if (/^\/(api|ui)\/|^\/(metrics|healthz)$/.test(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', render);

// ------------------------------------------------------------------ theme

const THEMES = ['system', 'light', 'dark'];
const themeButton = document.getElementById('theme');

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const label = { system: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' }[theme];
  themeButton.textContent = { system: '◐', light: '☀', dark: '☾' }[theme];
  themeButton.title = `${label} (click to change)`;
  themeButton.setAttribute('aria-label', label);
}

themeButton.addEventListener('click', () => {
  const current = document.documentElement.dataset.theme || 'system';
  const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
  try { localStorage.setItem('wakeline-theme', next); } catch { /* private mode */ }
  applyTheme(next);
});
applyTheme(THEMES.includes(document.documentElement.dataset.theme) ? document.documentElement.dataset.theme : 'system');

// ------------------------------------------------------------------ session

const logoutButton = document.getElementById('logout');
logoutButton.addEventListener('click', async () => {
  try { await api.logout(); } catch { /* the cookie is gone either way */ }
  session = { ...session, authenticated: false };
  logoutButton.hidden = true;
  navigate('/login', { replace: false });
});

/** The login page tells the shell when the session changed. */
function sessionChanged(next) {
  session = next;
  logoutButton.hidden = !(next.auth_required && next.authenticated);
}

onUnauthorized(() => {
  if (location.pathname === '/login') return;
  sessionChanged({ auth_required: true, authenticated: false });
  const here = location.pathname + location.search;
  navigate(`/login?next=${encodeURIComponent(here)}`, { replace: true });
});

// ------------------------------------------------------------------ keyboard

function typing(target) {
  return target instanceof Element && target.closest('input, textarea, select, [contenteditable="true"]');
}

function mainRows() {
  return document.querySelector('#app [data-rows]');
}

function rowSibling(row, forward) {
  let n = forward ? row.nextElementSibling : row.previousElementSibling;
  while (n && !n.classList.contains('row')) n = forward ? n.nextElementSibling : n.previousElementSibling;
  return n;
}

function firstVisibleRow(list) {
  const box = list.getBoundingClientRect();
  const top = Math.max(box.top, 0);
  for (const row of list.children) {
    if (!row.classList.contains('row')) continue;
    if (row.getBoundingClientRect().bottom > top) return row;
  }
  return null;
}

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === 'Escape') {
    if (typing(event.target)) { event.target.blur(); return; }
    const open = document.querySelector('#app .row.selected.open') || document.querySelector('#app .row.open');
    if (open) { toggleRow(open, false); open.focus({ preventScroll: true }); return; }
    const sel = document.querySelector('#app .row.selected');
    if (sel) sel.classList.remove('selected');
    return;
  }
  if (typing(event.target)) return;
  if (event.key === '/') {
    const q = document.getElementById('q');
    if (q) { event.preventDefault(); q.focus(); q.select(); }
    return;
  }
  const list = mainRows();
  if (!list) return;
  if (event.key === 'j' || event.key === 'k') {
    event.preventDefault();
    const current = list.querySelector(':scope > .row.selected');
    let next;
    if (!current) next = firstVisibleRow(list);
    else next = rowSibling(current, event.key === 'j') || current;
    if (next) selectRow(next);
    return;
  }
  if (event.key === 'Enter') {
    const target = event.target instanceof Element ? event.target : null;
    if (target && target.closest('a, button, summary')) return;
    const current = (target && target.closest('.row')) || list.querySelector(':scope > .row.selected');
    if (current) { event.preventDefault(); selectRow(current, { scroll: false }); toggleRow(current); }
  }
});

// ------------------------------------------------------------------ start

async function start() {
  try {
    sessionChanged(await api.session());
  } catch {
    /* the page itself will show what is wrong */
  }
  if (session.auth_required && !session.authenticated && location.pathname !== '/login') {
    const here = location.pathname + location.search;
    history.replaceState(null, '', `/login?next=${encodeURIComponent(here)}`);
  }
  render();
}

start();
