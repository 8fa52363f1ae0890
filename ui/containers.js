// containers.js — `/containers`: every container on the engine, and removed
// ones while the index still holds lines of theirs.
//
// A table from /api/containers, refreshed every 5 s while the page is open
// (line counts and "last line" move). Each name, in its stable colour, links
// to the live view filtered by it. Columns sort by a click on their header;
// the sort is in the URL (`sort`, `dir`) like every other state.

import { el, clear } from './el.js';
import { api, qs } from './api.js';
import { colourDot, paintContainer } from './row.js';
import { num, tsMillis, ago, dateTime } from './format.js';

const COLUMNS = [
  { key: 'name', label: 'name' },
  { key: 'image', label: 'image', cls: 'col-image' },
  { key: 'service', label: 'service' },
  { key: 'project', label: 'project', cls: 'col-project' },
  { key: 'state', label: 'state' },
  { key: 'lines', label: 'lines', num: true },
  { key: 'last_ts', label: 'last line', time: true },
  { key: 'read_from', label: 'read', cls: 'col-read' },
  { key: 'error', label: 'error', cls: 'col-error' },
];

function compare(key, dir) {
  const col = COLUMNS.find((c) => c.key === key) || COLUMNS[0];
  return (a, b) => {
    let x = a[col.key];
    let y = b[col.key];
    if (col.time) { x = tsMillis(x) || 0; y = tsMillis(y) || 0; }
    if (col.num) { x = x || 0; y = y || 0; }
    const r = typeof x === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''));
    return (dir === 'desc' ? -r : r) || String(a.name).localeCompare(String(b.name));
  };
}

function row(c, now) {
  const last = tsMillis(c.last_ts);
  const name = el('td', { class: 'cname' }, colourDot(c.name), ' ',
    el('a', { class: 'live-link', href: `/?container=${encodeURIComponent(c.name)}`, title: `live lines of ${c.name}` }, c.name),
    c.tty ? el('span', { class: 'tag', title: 'a TTY: stdout and stderr are one stream' }, 'tty') : null);
  paintContainer(name, c.name);
  return el('tr', { class: 'container-row', dataset: { name: c.name } },
    name,
    el('td', { class: 'col-image mono-small', title: c.image || '' }, c.image || ''),
    el('td', null, c.service ? el('a', { href: `/${qs({ service: c.service })}`, title: 'live lines of this service' }, c.service) : ''),
    el('td', { class: 'col-project' }, c.project || ''),
    el('td', null, el('span', { class: `state state-${c.state || 'unknown'}` }, c.state || '?')),
    el('td', { class: 'num' }, el('a', { href: `/search${qs({ container: c.name })}`, title: 'search these lines' }, num(c.lines ?? 0))),
    el('td', { class: 'nowrap', title: c.last_ts ? `${dateTime(last)} (${c.last_ts})` : 'no line yet' }, c.last_ts ? ago(last, now) : '—'),
    el('td', { class: 'col-read mono-small', title: c.read_from === 'file' ? 'read from its json-file log on disk' : 'read through the Docker API' }, c.read_from || ''),
    el('td', { class: 'col-error error-text' }, c.error || ''));
}

export function mount(root, ctx) {
  const sort = ctx.params.get('sort') || 'last_ts';
  const dir = ctx.params.get('dir') || (sort === 'last_ts' || sort === 'lines' ? 'desc' : 'asc');
  const tbody = el('tbody');
  const note = el('p', { class: 'muted' }, 'loading…');
  const head = el('tr', null, COLUMNS.map((c) => el('th', {
    scope: 'col', class: c.cls, 'aria-sort': c.key === sort ? (dir === 'asc' ? 'ascending' : 'descending') : 'none',
  }, el('button', {
    type: 'button', class: 'sort',
    onclick: () => ctx.setParams({ sort: c.key, dir: c.key === sort && dir === 'asc' ? 'desc' : c.key === sort ? 'asc' : (c.num || c.time ? 'desc' : 'asc') }, { replace: true }),
  }, c.label, c.key === sort ? (dir === 'asc' ? ' ▲' : ' ▼') : ''))));
  root.append(el('section', { id: 'containers', class: 'page page-scroll' },
    el('header', { class: 'req-head' }, el('h1', null, 'Containers'), el('span', { class: 'spacer' }), note),
    el('div', { class: 'table-wrap' }, el('table', { class: 'data containers' }, el('thead', null, head), tbody))));

  const controller = new AbortController();
  let timer = 0;
  async function load() {
    try {
      const data = await api.containers(controller.signal);
      const list = [...(data.containers || [])].sort(compare(sort, dir));
      const now = Date.now();
      clear(tbody, list.map((c) => row(c, now)));
      const running = list.filter((c) => c.state === 'running').length;
      note.textContent = `${num(list.length)} containers · ${num(running)} running · ${num(list.reduce((s, c) => s + (c.lines || 0), 0))} lines`;
    } catch (e) {
      if (e.name === 'AbortError') return;
      note.textContent = e.detail || e.error || String(e);
    }
    timer = setTimeout(load, 5000);
  }
  load();
  return () => { controller.abort(); clearTimeout(timer); };
}
