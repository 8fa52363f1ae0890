// row.js — the one renderer of a log line, shared by every page.
//
// A record becomes `div.row[data-seq]` holding one dense `.line` (time,
// container, level, message, request link) and, once expanded, a `.detail`
// (the JSON object pretty-printed, the record's fields, a context view).
// Everything a log line contains is inserted as text nodes; ANSI colours go
// through ansi.js. Rows carry no listeners of their own: `bindRows` installs
// one delegated handler per list, which is what lets the live page add
// thousands of rows a second.
//
// Clickable values carry `data-filter-key` / `data-filter-value`; the list's
// `onFilter(key, value)` decides what a filter means on its page (key is a
// filter name, or `q` for a clause to append to the query).

import { el, svg, clear, append } from './el.js';
import * as ansi from './ansi.js';
import { api } from './api.js';
import { tsMillis, clock, monthDay, sameLocalDay, hue, levelClass, num } from './format.js';

/** Lines longer than this are folded behind a "show all" button. */
export const FOLD_AT = 2000;
const MESSAGE_KEYS = ['msg', 'message', 'event', '@m', '@message', 'body'];
const records = new WeakMap();

/** The record a row element shows. */
export function recordOf(row) { return records.get(row); }

/**
 * The human message: the record's `msg` (the app's message as the collector
 * read it), else a structured line's `msg`, `event`, …, else the line. A line
 * with ANSI colours shows whole, in colour (`msg` is read without them).
 */
export function displayMessage(rec) {
  const coloured = typeof rec.message === 'string' && rec.message.includes('\u001b');
  if (typeof rec.msg === 'string' && rec.msg !== '' && !coloured) return rec.msg;
  const fields = rec.fields;
  if (fields && typeof rec.message === 'string' && rec.message.trimStart().startsWith('{')) {
    for (const key of MESSAGE_KEYS) {
      const v = fields[key];
      if (v !== undefined && v !== null && v !== '') return typeof v === 'string' ? v : JSON.stringify(v);
    }
  }
  return rec.message ?? '';
}

/** Sets the per-container colour (a hue custom property read by the CSS). */
export function paintContainer(node, name) {
  node.style.setProperty('--hue', String(hue(name || '')));
}

function timeCell(ts, now) {
  const ms = tsMillis(ts);
  const cell = el('span', { class: 'ts', title: ts });
  if (Number.isNaN(ms)) { cell.textContent = ts; return cell; }
  if (!sameLocalDay(ms, now)) {
    cell.appendChild(el('span', { class: 'date' }, monthDay(ms), ' '));
    cell.dataset.dated = '';
  }
  cell.appendChild(document.createTextNode(clock(ms)));
  return cell;
}

function renderMessage(msgEl, text, terms, full) {
  const folded = ansi.render(msgEl, text, full ? Infinity : FOLD_AT);
  if (terms) highlight(msgEl, terms);
  return folded;
}

/** Short form of a request ID for the row; the full one is in the title. */
function shortId(id) {
  return id.length > 12 ? `…${id.slice(-8)}` : id;
}

/**
 * Renders one record. opts.terms: a RegExp of matched terms to highlight;
 * opts.now: "today" for the date prefix (defaults to now).
 */
export function renderRow(rec, opts = {}) {
  const stderr = rec.stream === 'stderr';
  const row = el('div', {
    class: ['row', stderr && 'stderr', rec.level && `row-${levelClass(rec.level)}`],
    tabindex: '-1',
    dataset: { seq: rec.seq },
  });
  records.set(row, rec);
  const name = rec.container || rec.container_id?.slice(0, 12) || '?';
  const container = el('span', {
    class: 'container',
    title: `${name}${rec.service && rec.service !== name ? ` (service ${rec.service})` : ''} — click to filter`,
    dataset: { filterKey: 'container', filterValue: name },
  }, name);
  paintContainer(container, name);
  const level = el('span', {
    class: ['level', levelClass(rec.level)],
    title: rec.level ? `level ${rec.level} — click to filter` : 'no level',
    dataset: rec.level ? { filterKey: 'level', filterValue: rec.level } : {},
  }, rec.level ? rec.level.toUpperCase() : '');
  const msg = el('span', { class: 'msg' });
  const body = el('span', { class: 'body' }, msg);
  const text = displayMessage(rec);
  // A stack trace joined into one record shows its first line until asked.
  const firstBreak = rec.lines > 1 ? text.indexOf('\n') : -1;
  const shown = firstBreak >= 0 ? text.slice(0, firstBreak) : text;
  if (renderMessage(msg, shown, opts.terms, false) || firstBreak >= 0) {
    body.appendChild(el('button', {
      class: 'show-all', type: 'button', dataset: { action: 'show-all' },
      title: firstBreak >= 0 ? `${rec.lines} log lines joined into one record (a stack trace)` : null,
    }, firstBreak >= 0 ? `show all ${num(rec.lines)} lines` : `show all ${num(text.length)} chars`));
  }
  if (rec.truncated) body.appendChild(el('span', { class: 'tag', title: 'cut at the collector\'s --max-line-bytes' }, 'truncated'));
  const rid = rec.request_id || rec.trace_id;
  if (rid) {
    body.appendChild(el('a', {
      class: 'rid',
      href: `/requests/${encodeURIComponent(rid)}`,
      title: `request ${rid}: every line of it`,
    }, shortId(rid)));
  }
  row.appendChild(el('div', { class: 'line' },
    timeCell(rec.ts, opts.now ?? Date.now()),
    container,
    stderr ? el('span', { class: 'stream', title: 'written to stderr' }, 'err') : el('span', { class: 'stream' }),
    level,
    body));
  return row;
}

/** A notice row where the live feed skipped records. */
export function gapRow(dropped, why = 'this view fell behind the stream') {
  return el('div', { class: 'gap', role: 'note', dataset: { dropped } },
    `⋯ ${dropped} lines skipped — ${why}`);
}

// ---------------------------------------------------------------- highlight

const WORD = '[\\p{L}\\p{N}]';

function termPattern(term) {
  const prefix = term.endsWith('*');
  const words = term.replace(/\*$/, '').split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  if (!words.length) return null;
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return `(?<!${WORD})${escaped.join(`${WORD.replace('[', '[^')}+`)}${prefix ? `${WORD}*` : `(?!${WORD})`}`;
}

/**
 * A RegExp matching the words of `q` that can be seen in a message: free
 * terms, phrases and `message:`/`msg:` values, not negated ones, not other
 * fields or ranges. Matching follows the index's tokenizer: whole words,
 * any case. Null when there is nothing to highlight.
 */
export function termsRegex(q) {
  if (!q) return null;
  const token = /(NOT\s+|-)?(?:([\w.@-]+):)?("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{[^}]*\}|[^\s()"]+)/g;
  const patterns = [];
  for (const m of q.matchAll(token)) {
    const [, negated, field, value] = m;
    if (negated) continue;
    if (!field && /^(AND|OR|NOT|TO)$/.test(value)) continue;
    if (field && !['message', 'msg'].includes(field)) continue;
    if (value.startsWith('[') || value.startsWith('{') || value === '*') continue;
    const text = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value.replace(/^\+/, '');
    const p = termPattern(text);
    if (p) patterns.push(p);
  }
  if (!patterns.length) return null;
  try {
    return new RegExp(patterns.join('|'), 'giu');
  } catch {
    return null;
  }
}

/** Wraps every match of `re` in the text under `root` in a <mark>. */
export function highlight(root, re) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
  for (const node of nodes) {
    const text = node.nodeValue;
    re.lastIndex = 0;
    let m = re.exec(text);
    if (!m) continue;
    const frag = document.createDocumentFragment();
    let last = 0;
    while (m) {
      if (m[0].length === 0) { re.lastIndex += 1; m = re.exec(text); continue; }
      if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
      frag.appendChild(el('mark', null, m[0]));
      last = m.index + m[0].length;
      m = re.exec(text);
    }
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    node.parentNode.replaceChild(frag, node);
  }
}

// ---------------------------------------------------------------- detail

const SAFE_KEY = /^[A-Za-z0-9_-]+$/;

/** The query clause that finds `value` at `path` (`fields.a.b`). */
export function fieldClause(path, value) {
  if (typeof value === 'number' || typeof value === 'boolean') return `${path}:${value}`;
  return `${path}:"${String(value).replace(/[\\"]/g, '\\$&')}"`;
}

function filterButton(key, value, label, title) {
  return el('button', {
    type: 'button', class: 'fv', title: title || `filter: ${key === 'q' ? value : `${key} = ${value}`}`,
    dataset: { filterKey: key, filterValue: value },
  }, label);
}

function jsonValue(value, path, indent) {
  if (value === null) return el('span', { class: 'j-lit' }, 'null');
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    const pad = '  '.repeat(indent + 1);
    const parts = ['[\n'];
    value.forEach((v, i) => {
      parts.push(pad, jsonValue(v, null, indent + 1), i < value.length - 1 ? ',\n' : '\n');
    });
    parts.push('  '.repeat(indent), ']');
    return el('span', null, parts);
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (!keys.length) return '{}';
    const pad = '  '.repeat(indent + 1);
    const parts = ['{\n'];
    keys.forEach((k, i) => {
      const childPath = path && SAFE_KEY.test(k) ? `${path}.${k}` : null;
      parts.push(pad, el('span', { class: 'j-key' }, JSON.stringify(k)), ': ',
        jsonValue(value[k], childPath, indent + 1), i < keys.length - 1 ? ',\n' : '\n');
    });
    parts.push('  '.repeat(indent), '}');
    return el('span', null, parts);
  }
  const cls = typeof value === 'string' ? 'j-str' : typeof value === 'number' ? 'j-num' : 'j-lit';
  const shown = JSON.stringify(value);
  if (path) return filterButton('q', fieldClause(path, value), el('span', { class: cls }, shown));
  return el('span', { class: cls }, shown);
}

/** The message as a JSON object, when it is one. */
function messageObject(rec) {
  const text = ansi.strip(rec.message || '').trim();
  if (!text.startsWith('{')) return null;
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

function jsonBlock(rec, obj) {
  const fields = rec.fields || {};
  const pad = '  ';
  const keys = Object.keys(obj);
  const parts = ['{\n'];
  keys.forEach((k, i) => {
    let value;
    if (k in fields && SAFE_KEY.test(k)) value = jsonValue(obj[k], `fields.${k}`, 1);
    else if (rec.level && typeof obj[k] === 'string' && obj[k].toLowerCase() === rec.level && /^(level|lvl|severity|loglevel)$/i.test(k)) {
      value = filterButton('level', rec.level, el('span', { class: 'j-str' }, JSON.stringify(obj[k])));
    } else value = jsonValue(obj[k], null, 1);
    parts.push(pad, el('span', { class: 'j-key' }, JSON.stringify(k)), ': ', value, i < keys.length - 1 ? ',\n' : '\n');
  });
  parts.push('}');
  return el('pre', { class: 'json', 'aria-label': 'the line as JSON' }, parts);
}

function fieldsTable(rec) {
  const fields = rec.fields || {};
  const keys = Object.keys(fields);
  if (!keys.length) return null;
  return el('dl', { class: 'kv' }, keys.map((k) => {
    const v = fields[k];
    const shown = typeof v === 'string' ? v : JSON.stringify(v);
    const value = SAFE_KEY.test(k) && (typeof v !== 'object' || v === null)
      ? (v === null ? shown : filterButton('q', fieldClause(`fields.${k}`, v), shown))
      : shown;
    return [el('dt', null, k), el('dd', null, value)];
  }));
}

function requestLink(id) {
  return el('a', { href: `/requests/${encodeURIComponent(id)}`, title: 'every line of this request' }, id);
}

function metaTable(rec) {
  const rows = [
    ['time', el('span', null, rec.ts)],
    ['container', rec.container && filterButton('container', rec.container, rec.container)],
    ['service', rec.service && filterButton('service', rec.service, rec.service)],
    ['project', rec.project],
    ['image', rec.image],
    ['stream', rec.stream && filterButton('stream', rec.stream, rec.stream)],
    ['level', rec.level && filterButton('level', rec.level, rec.level)],
    ['request_id', rec.request_id && requestLink(rec.request_id)],
    ['trace_id', rec.trace_id && requestLink(rec.trace_id)],
    ['span_id', rec.span_id],
    ['host', rec.host],
    ['container_id', rec.container_id],
    ['seq', String(rec.seq)],
    ['truncated', rec.truncated ? 'yes: cut at --max-line-bytes' : null],
    ['lines', rec.lines > 1 ? `${num(rec.lines)} log lines joined into this record` : null],
  ];
  return el('dl', { class: 'kv meta' }, rows.filter(([, v]) => v).map(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'copied';
  } catch {
    button.textContent = 'copy failed';
  }
  setTimeout(() => { button.textContent = button.dataset.label; }, 1200);
}

function contextView(rec) {
  const box = el('div', { class: 'context', role: 'region', 'aria-label': 'lines around this one' });
  let before = 20;
  let after = 20;
  const status = el('span', { class: 'muted' }, 'loading…');
  const rowsBox = el('div', { class: 'context-rows' });
  const earlier = el('button', { type: 'button', class: 'btn small', onclick: () => { before += 100; load(); } }, 'earlier');
  const later = el('button', { type: 'button', class: 'btn small', onclick: () => { after += 100; load(); } }, 'later');
  box.append(
    el('div', { class: 'context-head' },
      el('strong', null, 'Context'), ` in ${rec.container || 'this container'} `, status, earlier, later),
    rowsBox);
  async function load() {
    status.textContent = 'loading…';
    try {
      const data = await api.context(rec.seq, Math.min(before, 1000), Math.min(after, 1000));
      const now = Date.now();
      const rows = [...data.before, data.record, ...data.after].map((r) => {
        const row = renderRow(r, { now });
        if (r.seq === rec.seq) row.classList.add('ctx-self');
        return row;
      });
      clear(rowsBox, rows);
      status.textContent = `${num(data.before.length)} before, ${num(data.after.length)} after`;
      earlier.disabled = data.before.length < before || before >= 1000;
      later.disabled = data.after.length < after || after >= 1000;
      rowsBox.querySelector('.ctx-self')?.scrollIntoView({ block: 'nearest' });
    } catch (e) {
      status.textContent = e.status === 404 ? 'this line is no longer in the index' : (e.detail || e.error || String(e));
    }
  }
  load();
  return box;
}

function renderDetail(rec) {
  const obj = messageObject(rec);
  const detail = el('div', { class: 'detail' });
  const copyLine = el('button', { type: 'button', class: 'btn small', dataset: { label: 'copy line' } }, 'copy line');
  copyLine.addEventListener('click', () => copy(ansi.strip(rec.message || ''), copyLine));
  const copyJson = el('button', { type: 'button', class: 'btn small', dataset: { label: 'copy record' } }, 'copy record');
  copyJson.addEventListener('click', () => copy(JSON.stringify(rec, null, 2), copyJson));
  const ctxButton = el('button', { type: 'button', class: 'btn small', 'aria-expanded': 'false' }, 'context');
  ctxButton.addEventListener('click', () => {
    const open = detail.querySelector('.context');
    if (open) { open.remove(); ctxButton.setAttribute('aria-expanded', 'false'); return; }
    ctxButton.setAttribute('aria-expanded', 'true');
    detail.appendChild(contextView(rec));
  });
  const rid = rec.request_id || rec.trace_id;
  append(detail, [
    el('div', { class: 'actions' },
      ctxButton, copyLine, copyJson,
      rid && el('a', { class: 'btn small', href: `/requests/${encodeURIComponent(rid)}` }, 'open request')),
    obj ? jsonBlock(rec, obj) : fieldsTable(rec),
    metaTable(rec)]);
  return detail;
}

// ---------------------------------------------------------------- behaviour

/** Expands or collapses a row (its detail below the line). */
export function toggleRow(row, open = !row.classList.contains('open')) {
  const rec = records.get(row);
  if (!rec) return;
  const existing = row.querySelector(':scope > .detail');
  if (!open) {
    existing?.remove();
    row.classList.remove('open');
    row.setAttribute('aria-expanded', 'false');
  } else {
    if (!existing) row.appendChild(renderDetail(rec));
    row.classList.add('open');
    row.setAttribute('aria-expanded', 'true');
  }
  // A virtual list (live.js) measures rows while they are open.
  row.dispatchEvent(new CustomEvent('wakeline:rowtoggle', { bubbles: true }));
}

/** Marks `row` as the selected one (outlined, focused, scrolled into view). */
export function selectRow(row, { focus = true, scroll = true } = {}) {
  document.querySelectorAll('.row.selected').forEach((r) => { if (r !== row) r.classList.remove('selected'); });
  if (!row) return;
  row.classList.add('selected');
  if (focus) row.focus({ preventScroll: true });
  if (scroll) row.scrollIntoView({ block: 'nearest' });
}

function showAll(row, button) {
  const rec = records.get(row);
  const msg = row.querySelector(':scope > .line .msg');
  if (!rec || !msg) return;
  msg.replaceChildren();
  renderMessage(msg, displayMessage(rec), null, true);
  button.remove();
}

/**
 * One delegated handler for a list of rows. opts.onFilter(key, value) is
 * called for a clicked value; opts.terms re-highlights shown-in-full lines.
 */
export function bindRows(list, opts) {
  list.addEventListener('click', (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    if (target.closest('a')) return; // the router handles links
    const filter = target.closest('[data-filter-key]');
    if (filter && list.contains(filter)) {
      event.preventDefault();
      opts.onFilter?.(filter.dataset.filterKey, filter.dataset.filterValue);
      return;
    }
    const action = target.closest('[data-action="show-all"]');
    if (action) { showAll(action.closest('.row'), action); return; }
    if (target.closest('button, input, select, textarea')) return;
    const hit = target.closest('.row, .detail');
    if (!hit || !hit.classList.contains('row')) return;
    if (String(window.getSelection?.() || '').length > 0) return; // selecting text, not clicking
    selectRow(hit, { scroll: false });
    toggleRow(hit);
  });
}

/** A small SVG dot in a container's colour (tables, legends). */
export function colourDot(name) {
  const dot = svg('svg', { class: 'dot', width: 10, height: 10, viewBox: '0 0 10 10', 'aria-hidden': 'true' },
    svg('circle', { cx: 5, cy: 5, r: 4.5 }));
  paintContainer(dot, name);
  return dot;
}
