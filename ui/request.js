// request.js — `/requests/{id}`: every line of one request, across services.
//
// One call to /api/requests/{id} gives the lines (oldest first) and a summary
// per service. The page shows the summary as a table, a time axis in SVG
// (one lane per service from its first to its last line, a tick per line in
// the line's level colour; clicking a tick selects that line below), and the
// lines themselves with the shared row renderer. Downloads stream the same
// lines from /api/export. For services that use the middleware, the answer
// also holds the request's spans and calls: drawn first, as a waterfall
// (waterfall.js), with any hop where the request ID was lost flagged.

import { el, svg, clear } from './el.js';
import { api, exportUrl, qs } from './api.js';
import { renderRow, bindRows, selectRow, colourDot, paintContainer } from './row.js';
import { withFilter } from './filters.js';
import { mountWaterfall } from './waterfall.js';
import { num, tsMillis, clock, dateTime, duration, levelClass } from './format.js';

const LANE = 22;
const AXIS = 22;

function laneKey(x) { return x.service || x.container || '?'; }

function niceStep(span, maxTicks) {
  const raw = span / Math.max(1, maxTicks);
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-3)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function timeline(container, data, onPick) {
  const chart = svg('svg', { id: 'timeline', class: 'timeline', role: 'img' });
  container.append(chart);
  const services = [...data.services].sort((a, b) => tsMillis(a.first_ts) - tsMillis(b.first_ts));
  const lanes = new Map(services.map((s, i) => [laneKey(s), i]));
  for (const r of data.records) {
    const k = laneKey(r);
    if (!lanes.has(k)) {
      lanes.set(k, lanes.size);
      services.push({ service: r.service, container: r.container, first_ts: r.ts, last_ts: r.ts });
    }
  }
  const times = data.records.map((r) => tsMillis(r.ts));
  const t0 = Math.min(...times, ...services.map((s) => tsMillis(s.first_ts)));
  const t1 = Math.max(...times, ...services.map((s) => tsMillis(s.last_ts)));
  const span = Math.max(1, t1 - t0);
  chart.setAttribute('aria-label', `time axis: ${services.length} services over ${duration(span)}`);

  function draw() {
    clear(chart);
    const width = Math.max(300, container.clientWidth);
    const labelW = Math.min(180, Math.max(90, width * 0.2));
    const right = 16;
    const height = AXIS + services.length * LANE + 6;
    chart.setAttribute('width', width);
    chart.setAttribute('height', height);
    chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const plotW = width - labelW - right;
    const x = (t) => labelW + ((t - t0) / span) * plotW;
    // Axis: offsets from the first line.
    const step = niceStep(span, Math.max(2, Math.floor(plotW / 90)));
    for (let d = 0; d <= span + 1e-9; d += step) {
      chart.append(
        svg('line', { class: 'grid', x1: x(t0 + d), x2: x(t0 + d), y1: AXIS - 4, y2: height }),
        svg('text', { class: 'axis', x: x(t0 + d), y: 12, 'text-anchor': d === 0 ? 'start' : 'middle' }, d === 0 ? clock(t0) : `+${duration(d)}`));
    }
    services.forEach((s, i) => {
      const y = AXIS + i * LANE;
      const name = laneKey(s);
      const label = svg('text', { class: 'lane-label', x: labelW - 8, y: y + LANE / 2 + 4, 'text-anchor': 'end' },
        name.length > 22 ? `${name.slice(0, 21)}…` : name);
      paintContainer(label, s.container || name);
      const a = x(tsMillis(s.first_ts));
      const b = x(tsMillis(s.last_ts));
      const bar = svg('rect', {
        class: 'lane-bar', x: a, y: y + 4, width: Math.max(3, b - a), height: LANE - 8, rx: 2,
      }, svg('title', null, `${name}: ${dateTime(tsMillis(s.first_ts))} → +${duration(tsMillis(s.last_ts) - tsMillis(s.first_ts))}, ${num(s.lines ?? 0)} lines`));
      paintContainer(bar, s.container || name);
      chart.append(label, bar);
    });
    // One tick per line (one per pixel and level when they crowd).
    const seen = new Set();
    const ticks = svg('g', { class: 'ticks' });
    for (const r of data.records) {
      const lane = lanes.get(laneKey(r));
      const px = Math.round(x(tsMillis(r.ts)));
      const key = `${lane}|${px}|${r.level}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const y = AXIS + lane * LANE;
      const tick = svg('line', {
        class: ['tick-mark', levelClass(r.level)].join(' '), x1: px, x2: px, y1: y + 2, y2: y + LANE - 2,
        dataset: { seq: r.seq },
      }, svg('title', null, `${clock(tsMillis(r.ts))} ${r.level || ''} ${(r.fields?.msg ?? r.message ?? '').toString().slice(0, 120)}`));
      ticks.append(tick);
    }
    chart.append(ticks);
  }
  chart.addEventListener('click', (event) => {
    const tick = event.target instanceof Element && event.target.closest('.tick-mark');
    if (tick) onPick(tick.dataset.seq);
  });
  draw();
  const ro = new ResizeObserver(draw);
  ro.observe(container);
  return () => ro.disconnect();
}

function summaryTable(data) {
  const t0 = Math.min(...data.services.map((s) => tsMillis(s.first_ts)));
  return el('div', { class: 'table-wrap' }, el('table', { class: 'services data' },
    el('caption', { class: 'sr-only' }, 'services this request touched'),
    el('thead', null, el('tr', null,
      ['service', 'container', 'lines', 'max level', 'first', 'last', 'busy'].map((h) => el('th', { scope: 'col', class: `col-${h.replace(' ', '-')}` }, h)))),
    el('tbody', null, [...data.services].sort((a, b) => tsMillis(a.first_ts) - tsMillis(b.first_ts)).map((s) => {
      const first = tsMillis(s.first_ts);
      const last = tsMillis(s.last_ts);
      const cname = el('td', { class: 'cname' }, colourDot(s.container || ''), ' ',
        el('a', { href: `/?container=${encodeURIComponent(s.container || '')}`, title: 'live lines of this container' }, s.container || '?'));
      paintContainer(cname, s.container || '');
      return el('tr', { class: 'service-row', dataset: { service: laneKey(s) } },
        el('td', null, s.service || el('span', { class: 'muted' }, '—')),
        cname,
        el('td', { class: 'num' }, num(s.lines ?? 0)),
        el('td', null, s.max_level ? el('span', { class: ['level', levelClass(s.max_level)] }, s.max_level.toUpperCase()) : el('span', { class: 'muted' }, '—')),
        el('td', { class: 'mono col-first', title: s.first_ts }, `+${duration(first - t0)}`),
        el('td', { class: 'mono col-last', title: s.last_ts }, `+${duration(last - t0)}`),
        el('td', { class: 'mono' }, duration(last - first)));
    }))));
}

export function mount(root, ctx) {
  const id = ctx.id;
  const controller = new AbortController();
  const body = el('div', { class: 'req-body' }, el('p', { class: 'muted' }, 'loading…'));
  const params = { request_id: id, order: 'asc' };
  root.append(el('section', { id: 'request', class: 'page page-scroll' },
    el('header', { class: 'req-head' },
      el('h1', null, 'Request ', el('code', { class: 'rid-full' }, id)),
      el('span', { class: 'spacer' }),
      el('span', { class: 'downloads' }, el('span', { class: 'muted' }, 'download'),
        el('a', { id: 'download-ndjson', class: 'btn small', href: exportUrl(params, 'ndjson'), download: `request-${id}.ndjson` }, 'NDJSON'),
        el('a', { id: 'download-text', class: 'btn small', href: exportUrl(params, 'text'), download: `request-${id}.log` }, 'text'),
        el('a', { class: 'btn small', href: `/search${qs({ request_id: id })}` }, 'open in search'),
        el('a', { class: 'btn small', href: `/${qs({ request_id: id })}` }, 'live'))),
    body));
  let stopTimeline = () => {};

  api.request(id, controller.signal).then((data) => {
    const records = data.records || [];
    const services = data.services || [];
    if (!records.length) {
      clear(body, el('div', { class: 'page-msg' },
        el('p', null, 'No line carries this request ID (or trace ID) yet.'),
        el('p', { class: 'muted' }, 'Lines become searchable within about a second of being written.')));
      return;
    }
    const times = records.map((r) => tsMillis(r.ts));
    const t0 = Math.min(...times);
    const t1 = Math.max(...times);
    const list = el('div', { id: 'request-rows', class: 'rows', dataset: { rows: '' }, role: 'feed', 'aria-label': 'lines of this request, oldest first' });
    const now = Date.now();
    const frag = document.createDocumentFragment();
    for (const r of records) frag.appendChild(renderRow(r, { now }));
    if (frag.querySelector('.ts[data-dated]')) list.classList.add('has-dates');
    list.append(frag);
    bindRows(list, { onFilter: (key, value) => ctx.navigate(`/search${qs(withFilter({ request_id: id }, key, value))}`) });
    const timelineBox = el('div', { class: 'timeline-box' });
    const waterfallBox = el('div', { class: 'waterfall-box' });
    const onFilter = (key, value) => ctx.navigate(`/search${qs(withFilter({ request_id: id }, key, value))}`);
    mountWaterfall(waterfallBox, data, { onFilter });
    clear(body,
      el('p', { class: 'req-stats' },
        el('b', null, num(data.total ?? records.length)), ` line${records.length === 1 ? '' : 's'} · `,
        el('b', null, num(services.length)), ` service${services.length === 1 ? '' : 's'} · `,
        el('b', null, duration(t1 - t0)), ` from ${dateTime(t0)}.${String(Math.round(t0 % 1000)).padStart(3, '0')}`,
        (data.total ?? records.length) > records.length ? el('span', { class: 'warn-text' }, ` · showing the first ${num(records.length)}`) : null),
      services.length ? summaryTable(data) : null,
      waterfallBox,
      el('h2', { class: 'section-title' }, 'When each service was busy'),
      timelineBox,
      el('h2', { class: 'section-title' }, 'Lines, oldest first'),
      list);
    stopTimeline = timeline(timelineBox, { ...data, services, records }, (seq) => {
      const row = list.querySelector(`.row[data-seq="${CSS.escape(seq)}"]`);
      if (row) selectRow(row);
    });
  }).catch((e) => {
    if (e.name === 'AbortError') return;
    clear(body, el('div', { class: 'page-msg error-text' }, e.detail || e.error || String(e)));
  });

  return () => { controller.abort(); stopTimeline(); };
}
