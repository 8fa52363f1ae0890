// waterfall.js — a request's path across services, from its log lines alone.
//
// `/api/requests/{id}` rebuilds the request's spans (one per service call it
// served, nested under the call that started it) and calls (each outgoing
// call or queue publish, `seen: false` when no line of the span it started
// exists anywhere: the request ID stopped propagating there). This draws them
// as a waterfall: a row per span on a shared time axis, indented by depth,
// coloured by service, with method, path, status, duration and line count;
// the critical path (the chain that decided the request's duration) marked;
// a call that lost the ID as a dashed row of its own under its caller, with
// what the caller saw of it. Hovering a bar shows its timing; clicking a row
// shows that span's lines under it.
//
// Plain HTML rows (bars are positioned with CSSOM percentages, which the
// CSP allows), so labels wrap and select like text, and log text stays text.

import { el, clear } from './el.js';
import { renderRow, bindRows, paintContainer } from './row.js';
import { num, tsMillis, duration } from './format.js';

/** Spans in depth-first order (children by start), each with its depth. */
function ordered(spans) {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent && ids.has(s.parent) && s.parent !== s.span_id) {
      if (!children.has(s.parent)) children.set(s.parent, []);
      children.get(s.parent).push(s);
    } else {
      roots.push(s);
    }
  }
  const byStart = (a, b) => tsMillis(a.start) - tsMillis(b.start);
  const out = [];
  const visit = (s, depth) => {
    if (out.some((o) => o.span === s)) return; // a malformed cycle
    out.push({ span: s, depth });
    for (const c of (children.get(s.span_id) || []).sort(byStart)) visit(c, depth + 1);
  };
  for (const r of roots.sort(byStart)) visit(r, 0);
  return out;
}

function statusClass(status) {
  if (status == null) return '';
  if (status >= 500) return 'status-5xx';
  if (status >= 400) return 'status-4xx';
  return 'status-ok';
}

/**
 * Draws the waterfall of `data` (an /api/requests answer) into a new element
 * and returns it, or null when the request has no spans.
 */
export function waterfall(data, { onFilter } = {}) {
  const spans = data.spans || [];
  if (!spans.length) return null;
  const calls = data.calls || [];
  const critical = new Set(data.critical_path || []);
  const records = data.records || [];

  const times = [];
  for (const s of spans) times.push(tsMillis(s.start), tsMillis(s.end));
  for (const c of calls) times.push(tsMillis(c.start), tsMillis(c.end));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const span = Math.max(1, t1 - t0);
  const pct = (t) => `${(((t - t0) / span) * 100).toFixed(3)}%`;
  const width = (a, b) => `${Math.max(0.4, ((b - a) / span) * 100).toFixed(3)}%`;

  const root = el('div', { id: 'waterfall', class: 'waterfall', role: 'tree', 'aria-label': 'the request\'s spans, nested by caller' });
  const services = new Set(spans.map((s) => s.service || s.container));
  const lost = calls.filter((c) => !c.seen);
  root.append(el('p', { class: 'wf-summary' },
    el('b', null, num(spans.length)), ` span${spans.length === 1 ? '' : 's'} in `,
    el('b', null, num(services.size)), ` service${services.size === 1 ? '' : 's'} · `,
    el('b', null, num(calls.length)), ` call${calls.length === 1 ? '' : 's'}`,
    lost.length
      ? el('span', { class: 'wf-lost-count' }, ` · ${num(lost.length)} where the request ID stopped propagating`)
      : ' · every call seen',
    critical.size > 1 ? el('span', { class: 'muted' }, ' · ', el('span', { class: 'wf-crit-key' }), ' slowest path') : null));

  // Axis: offsets from the start of the request.
  const axis = el('div', { class: 'wf-row wf-axis', 'aria-hidden': 'true' }, el('div', { class: 'wf-label' }));
  const track = el('div', { class: 'wf-track' });
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const tick = el('span', { class: 'wf-tick' }, f === 0 ? '0' : `+${duration(span * f)}`);
    tick.style.left = `${f * 100}%`;
    track.append(tick);
  }
  axis.append(track);
  root.append(axis);

  // Unseen calls go right under the span that made them.
  const lostBy = new Map();
  for (const c of lost) {
    const key = c.from_span_id || '';
    if (!lostBy.has(key)) lostBy.set(key, []);
    lostBy.get(key).push(c);
  }

  for (const { span: s, depth } of ordered(spans)) {
    const a = tsMillis(s.start);
    const b = tsMillis(s.end);
    const name = s.service || s.container;
    const what = [s.kind === 'consume' ? 'consume' : s.method, s.path].filter(Boolean).join(' ');
    const label = el('div', { class: 'wf-label' },
      el('span', { class: 'wf-service' }, name),
      what ? el('span', { class: 'wf-what' }, what) : null);
    label.style.paddingLeft = `${6 + depth * 14}px`;
    paintContainer(label, s.container || name);
    const bar = el('span', {
      class: ['wf-bar', s.kind === 'consume' ? 'consume' : null],
      title: `${name} ${what}\nstarts +${duration(a - t0)}, lasts ${duration(s.duration_ms ?? b - a)}\n${num(s.lines)} line${s.lines === 1 ? '' : 's'}${s.status != null ? `, status ${s.status}` : ''}`,
    });
    bar.style.left = pct(a);
    bar.style.width = width(a, b);
    paintContainer(bar, s.container || name);
    const facts = el('span', { class: 'wf-facts' },
      s.status != null ? el('span', { class: ['wf-status', statusClass(s.status)] }, String(s.status)) : null,
      ` ${duration(s.duration_ms ?? b - a)} · ${num(s.lines)} line${s.lines === 1 ? '' : 's'}`);
    const row = el('div', {
      class: ['wf-row', 'span-row', critical.has(s.span_id) ? 'critical' : null],
      role: 'treeitem', tabindex: '0', 'aria-expanded': 'false',
      dataset: { spanId: s.span_id, service: name },
    }, label, el('div', { class: 'wf-track' }, bar), facts);
    const lines = el('div', { class: 'wf-lines rows', hidden: true });
    const toggle = () => {
      const open = lines.hidden;
      if (open && !lines.childElementCount) {
        const own = records.filter((r) => r.span_id === s.span_id);
        for (const r of own) lines.append(renderRow(r));
        bindRows(lines, { onFilter });
      }
      lines.hidden = !open;
      row.setAttribute('aria-expanded', String(open));
    };
    row.addEventListener('click', toggle);
    row.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(); }
    });
    root.append(row, lines);

    for (const c of lostBy.get(s.span_id) || []) root.append(lostRow(c, depth + 1));
    lostBy.delete(s.span_id);
  }
  // Calls whose caller's span is not among the spans (no start line).
  for (const list of lostBy.values()) for (const c of list) root.append(lostRow(c, 0));

  function lostRow(c, depth) {
    const a = tsMillis(c.start);
    const b = tsMillis(c.end);
    const target = [c.method, c.to ? `${c.to}${c.path || ''}` : c.path].filter(Boolean).join(' ');
    const label = el('div', { class: 'wf-label' },
      el('span', { class: 'wf-service' }, `→ ${c.to || 'unknown peer'}`),
      el('span', { class: 'wf-what' }, [c.method, c.path].filter(Boolean).join(' ')));
    label.style.paddingLeft = `${6 + depth * 14}px`;
    const bar = el('span', {
      class: 'wf-bar lost',
      title: `${target}\ncalled by ${c.from_service || '?'} at +${duration(a - t0)}, took ${c.duration_ms != null ? duration(c.duration_ms) : '?'}\nno line of the span it started (${c.child_span_id || 'no span ID'}) was found: the request ID stopped propagating here, or the callee is not collected`,
    });
    bar.style.left = pct(a);
    bar.style.width = width(a, b);
    return el('div', {
      class: ['wf-row', 'call-lost'], role: 'treeitem',
      dataset: { to: c.to || '', path: c.path || '' },
    }, label, el('div', { class: 'wf-track' }, bar),
    el('span', { class: 'wf-facts' },
      c.status != null ? el('span', { class: ['wf-status', statusClass(c.status)] }, String(c.status)) : null,
      c.error ? el('span', { class: 'error-text' }, ` ${c.error}`) : null,
      el('span', { class: 'wf-lost-note' }, ' request ID lost here')));
  }

  return root;
}

/** Replaces `box`'s content with the waterfall (or nothing). */
export function mountWaterfall(box, data, opts) {
  const view = waterfall(data, opts);
  clear(box, ...(view ? [el('h2', { class: 'section-title' }, 'Path across services'), view] : []));
}
