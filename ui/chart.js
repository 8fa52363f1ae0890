// chart.js — the volume chart of the search page, in plain SVG.
//
// It draws /api/histogram's buckets as bars stacked by level (errors at the
// bottom, where their height is easiest to read), with a y axis of line
// counts, local-time labels on the x axis and a legend. Dragging across the
// plot (or clicking one bar) hands a time range to `onSelect(fromMs, toMs)`;
// the page puts it in the URL and searches again. The SVG is sized in real
// pixels and redrawn when its box changes, so text is never scaled.
// Colours come from CSS (`rect.bar[data-level=…]`), so both themes apply.

import { el, svg, clear } from './el.js';
import { num, clock, monthDay, dateTime, LEVELS } from './format.js';

const ORDER = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const M = { left: 44, right: 8, top: 8, bottom: 20 };
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]
  .map((s) => s * 1000);

function levelOrder(levels) {
  const known = ORDER.filter((l) => levels.has(l));
  const rest = [...levels].filter((l) => !ORDER.includes(l) && l !== 'none').sort();
  return [...known, ...rest, ...(levels.has('none') ? ['none'] : [])];
}

function compact(n) {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(n);
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function timeLabel(ms, step, withDay) {
  if (step >= 86400000) return monthDay(ms);
  const t = clock(ms);
  const text = step < 60000 ? t.slice(0, 8) : t.slice(0, 5);
  return withDay ? `${monthDay(ms)} ${text}` : text;
}

/**
 * Builds the chart into `container`. opts.onSelect(fromMs, toMs): a range
 * was chosen; opts.onLevel(level): a legend entry was clicked.
 */
export function createChart(container, opts = {}) {
  const chart = svg('svg', { id: 'chart', class: 'chart', role: 'img', 'aria-label': 'matching lines over time', height: 130 });
  const tip = el('div', { class: 'chart-tip', hidden: true, role: 'status' });
  const legend = el('div', { class: 'legend', 'aria-label': 'levels' });
  const wrap = el('div', { class: 'chart-box' }, chart, tip);
  container.append(wrap, legend);
  let data = null;
  let drag = null;

  function draw() {
    clear(chart);
    const width = Math.max(200, Math.floor(wrap.clientWidth));
    const height = 130;
    chart.setAttribute('width', width);
    chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
    if (!data) return;
    const buckets = data.buckets || [];
    let sum = 0;
    const levels = new Set();
    let maxStack = 0;
    for (const b of buckets) {
      let stack = 0;
      for (const [lvl, c] of Object.entries(b.counts || {})) {
        if (c > 0) { levels.add(lvl); stack += c; }
      }
      sum += stack;
      maxStack = Math.max(maxStack, stack);
    }
    chart.dataset.total = String(sum);
    chart.setAttribute('aria-label', `${num(sum)} matching lines over time`);
    if (!buckets.length || sum === 0) {
      chart.append(svg('text', { x: width / 2, y: height / 2, class: 'chart-empty', 'text-anchor': 'middle' }, 'no lines in this range'));
      renderLegend(new Map());
      return;
    }
    const plotW = width - M.left - M.right;
    const plotH = height - M.top - M.bottom;
    const t0 = buckets[0].start_ms;
    const t1 = buckets[buckets.length - 1].end_ms;
    const span = Math.max(1, t1 - t0);
    const x = (t) => M.left + ((t - t0) / span) * plotW;
    const yMax = niceMax(maxStack);
    const y = (v) => M.top + plotH - (v / yMax) * plotH;

    // Grid and y labels.
    for (const v of [0, yMax / 2, yMax]) {
      chart.append(
        svg('line', { class: 'grid', x1: M.left, x2: width - M.right, y1: y(v), y2: y(v) }),
        svg('text', { class: 'axis', x: M.left - 6, y: y(v) + 3, 'text-anchor': 'end' }, compact(v)));
    }
    // X ticks, aligned to local time.
    const step = STEPS.find((s) => span / s <= Math.max(2, plotW / 90)) || STEPS[STEPS.length - 1];
    const offset = -new Date(t0).getTimezoneOffset() * 60000;
    const multiDay = new Date(t0).toDateString() !== new Date(t1).toDateString();
    let lastDay = '';
    for (let t = Math.ceil((t0 + offset) / step) * step - offset; t <= t1; t += step) {
      const day = new Date(t).toDateString();
      const label = timeLabel(t, step, multiDay && day !== lastDay && step < 86400000);
      lastDay = day;
      chart.append(
        svg('line', { class: 'tick', x1: x(t), x2: x(t), y1: M.top + plotH, y2: M.top + plotH + 4 }),
        // A label near either edge is anchored inward, so it is not cut off.
        svg('text', {
          class: 'axis', x: x(t), y: height - 5,
          'text-anchor': x(t) > width - 40 ? 'end' : x(t) < M.left + 30 ? 'start' : 'middle',
        }, label));
    }
    // Bars.
    const order = levelOrder(levels);
    const totals = new Map(order.map((l) => [l, 0]));
    const bars = svg('g', { class: 'bars' });
    buckets.forEach((b, i) => {
      const bx = x(b.start_ms);
      const bw = Math.max(1, x(b.end_ms) - bx - (plotW / buckets.length > 4 ? 1 : 0));
      let acc = 0;
      for (const lvl of order) {
        const c = (b.counts && b.counts[lvl]) || 0;
        if (!c) continue;
        totals.set(lvl, totals.get(lvl) + c);
        const top = y(acc + c);
        const h = y(acc) - top;
        bars.append(svg('rect', {
          class: 'bar', x: bx, y: top, width: bw, height: Math.max(h, 0.5),
          dataset: { level: lvl, count: c, bucket: i },
        }));
        acc += c;
      }
    });
    chart.append(bars);
    chart.append(svg('line', { class: 'baseline', x1: M.left, x2: width - M.right, y1: M.top + plotH, y2: M.top + plotH }));
    const hover = svg('rect', { class: 'hover-col', x: 0, y: M.top, width: 0, height: plotH, visibility: 'hidden' });
    const sel = svg('rect', { class: 'selection', x: 0, y: M.top, width: 0, height: plotH, visibility: 'hidden' });
    const overlay = svg('rect', { class: 'overlay', x: M.left, y: M.top, width: plotW, height: plotH });
    chart.append(hover, sel, overlay);
    renderLegend(totals);

    const timeAt = (px) => t0 + ((Math.min(Math.max(px, M.left), M.left + plotW) - M.left) / plotW) * span;
    const bucketAt = (t) => buckets.find((b) => t >= b.start_ms && t < b.end_ms) || buckets[buckets.length - 1];
    const localX = (event) => event.clientX - chart.getBoundingClientRect().left;

    overlay.addEventListener('pointermove', (event) => {
      const px = localX(event);
      if (drag) {
        const a = Math.min(drag, px);
        const w = Math.abs(px - drag);
        sel.setAttribute('x', Math.max(a, M.left));
        sel.setAttribute('width', Math.min(w, M.left + plotW - Math.max(a, M.left)));
        sel.setAttribute('visibility', 'visible');
      }
      const b = bucketAt(timeAt(px));
      hover.setAttribute('x', x(b.start_ms));
      hover.setAttribute('width', Math.max(1, x(b.end_ms) - x(b.start_ms)));
      hover.setAttribute('visibility', 'visible');
      showTip(b, order, px);
    });
    overlay.addEventListener('pointerleave', () => {
      if (drag) return;
      hover.setAttribute('visibility', 'hidden');
      tip.hidden = true;
    });
    overlay.addEventListener('pointerdown', (event) => {
      drag = localX(event);
      overlay.setPointerCapture(event.pointerId);
    });
    overlay.addEventListener('pointerup', (event) => {
      if (drag === null) return;
      const px = localX(event);
      const start = drag;
      drag = null;
      sel.setAttribute('visibility', 'hidden');
      if (Math.abs(px - start) >= 4) {
        const a = timeAt(Math.min(start, px));
        const b = timeAt(Math.max(start, px));
        opts.onSelect?.(Math.floor(a), Math.ceil(b));
      } else {
        const b = bucketAt(timeAt(px));
        opts.onSelect?.(b.start_ms, b.end_ms);
      }
    });
  }

  function showTip(b, order, px) {
    const lines = order.filter((l) => b.counts?.[l]).map((l) =>
      el('div', { class: 'tip-row' }, el('span', { class: `swatch sw-${l}`, dataset: { level: l } }), l, el('b', null, num(b.counts[l]))));
    const total = order.reduce((s, l) => s + (b.counts?.[l] || 0), 0);
    clear(tip,
      el('div', { class: 'tip-time' }, `${dateTime(b.start_ms)} – ${clock(b.end_ms).slice(0, 8)}`),
      el('div', { class: 'tip-total' }, `${num(total)} lines`),
      lines);
    tip.hidden = false;
    const w = wrap.clientWidth;
    tip.classList.toggle('left', px > w * 0.6);
    tip.style.left = `${px > w * 0.6 ? px - 12 : px + 12}px`;
  }

  function renderLegend(totals) {
    clear(legend);
    for (const [lvl, count] of totals) {
      if (!count) continue;
      const filterable = LEVELS.includes(lvl);
      legend.append(el(filterable ? 'button' : 'span', {
        type: filterable ? 'button' : undefined,
        class: 'legend-item',
        title: filterable ? `only ${lvl} lines` : 'lines without a level',
        onclick: filterable ? () => opts.onLevel?.(lvl) : undefined,
      }, el('span', { class: `swatch sw-${lvl}`, dataset: { level: lvl } }), lvl === 'none' ? 'no level' : lvl, ' ', el('b', null, num(count))));
    }
  }

  const resize = new ResizeObserver(() => { if (!drag) draw(); });
  resize.observe(wrap);

  return {
    svg: chart,
    /** Draws `data` (the /api/histogram response), or a blank chart for null. */
    update(next) { data = next; draw(); },
    loading(on) { wrap.classList.toggle('loading', on); },
    destroy() { resize.disconnect(); },
  };
}
