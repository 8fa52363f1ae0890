// live.js — `/`: the merged live stream of every container, newest at the bottom.
//
// It opens /api/live with the URL's filters and `tail=300`, then follows.
// Records can arrive thousands a second, so the page is a virtual list:
//
// - Arriving records only go into a queue (no DOM work per record).
// - One requestAnimationFrame callback a frame moves the queue into a ring of
//   at most MAX_ROWS items (records and gap notices) and draws only the rows
//   that can be seen, plus a few above and below: some fifty `.row` elements
//   between two spacers whose heights stand for everything else. Rows have one
//   fixed height (`--live-row-h` in style.css) so that the position of any
//   item is arithmetic, never a layout read; an expanded row is measured by a
//   ResizeObserver (asynchronous, no forced layout) and its extra height kept.
// - A frame writes the DOM once and then sets scrollTop once; it reads nothing
//   from layout. The viewport's height comes from a ResizeObserver too.
// - Counters are redrawn at most four times a second; a costly draw spaces
//   the next ones (see onFrame).
//
// Auto-scroll follows the bottom only while the view is at the bottom; then
// the oldest items leave the ring (a notice says how many). When the user has
// scrolled up, nothing above them is ever removed: items are added below until
// the ring is full, then new records wait (bounded; what overflows becomes a
// gap row) and a "N new lines" button offers to jump back. Pause stops taking
// records in the same way. A dropped socket is reopened with backoff, resuming
// after the last seq seen (api.js).
//
// Rows stay direct children of the list (`#live-rows > .row[data-seq]`, in
// record order), so the shell's j/k/Enter and the tests see ordinary rows; an
// expanded row keeps its element (and its detail) while it is out of view.

import { el } from './el.js';
import { openLive, qs } from './api.js';
import { renderRow, gapRow, bindRows, termsRegex } from './row.js';
import { filterBar, filtersOf, withFilter } from './filters.js';
import { num } from './format.js';

/** Most items (records and gap notices) the page keeps. */
export const MAX_ROWS = 10000;
/** Height of one collapsed row in px unless style.css's `--live-row-h` says otherwise. */
export const ROW_H = 19;
/** Rows drawn beyond each edge of the viewport. */
const OVERSCAN = 8;
const TAIL = 300;
const BOTTOM_SLACK = 24;
const COUNTS_EVERY_MS = 250;
const FOLLOW_SPACING = 2;
/** Shortest time between two draws for new records (20 a second at most). */
const FOLLOW_MIN_MS = 50;

export function mount(root, ctx) {
  const filters = filtersOf(ctx.params);
  const apply = (next) => ctx.setParams(next);
  const bar = filterBar(ctx.params, { onApply: apply, submitLabel: 'Apply' });

  const status = el('span', { id: 'status', class: 'status', dataset: { state: 'connecting' } }, 'connecting');
  const statusWrap = el('span', { class: 'status-wrap', dataset: { state: 'connecting' } },
    el('span', { class: 'dot', 'aria-hidden': 'true' }), status);
  const statusDetail = el('span', { id: 'status-detail', class: 'muted status-detail' });
  const pauseButton = el('button', { id: 'pause', type: 'button', class: 'btn', 'aria-pressed': 'false' }, 'Pause');
  const clearButton = el('button', { type: 'button', class: 'btn', title: 'remove every line from the view' }, 'Clear');
  const counts = el('span', { class: 'muted counts', 'aria-live': 'off' });
  const trimmedNote = el('span', { class: 'muted trimmed', hidden: true });
  const topSpace = el('div', { class: 'vspace', 'aria-hidden': 'true' });
  const bottomSpace = el('div', { class: 'vspace', 'aria-hidden': 'true' });
  const list = el('div', {
    id: 'live-rows', class: 'rows vlist', role: 'log', 'aria-label': 'live log lines', dataset: { rows: '' },
  }, topSpace, bottomSpace);
  const newLines = el('button', { id: 'new-lines', type: 'button', class: 'new-lines', hidden: true }, '');
  const empty = el('div', { class: 'empty' }, 'Waiting for lines…');

  const section = el('section', { id: 'live', class: 'page page-fill' },
    bar.form,
    el('div', { class: 'toolbar' },
      statusWrap,
      statusDetail,
      el('span', { class: 'spacer' }),
      trimmedNote, counts, pauseButton, clearButton),
    bar.error,
    bar.chips,
    el('div', { class: 'rows-wrap' }, list, empty, newLines));
  root.append(section);

  const terms = termsRegex(filters.q);
  bindRows(list, { onFilter: (key, value) => apply(withFilter(filters, key, value)) });

  // ------------------------------------------------------------ the ring
  // Items have absolute indexes: the ring holds [lo, hi); slot i % MAX_ROWS.
  const ring = new Array(MAX_ROWS);
  let lo = 0;
  let hi = 0;
  const itemAt = (i) => ring[i % MAX_ROWS];
  // One row's height: one line, two on narrow screens (a style read, no layout).
  let rowH = ROW_H;
  const readRowH = () => parseFloat(getComputedStyle(list).getPropertyValue('--live-row-h')) || ROW_H;

  // Extra height (px beyond a row's height) of expanded rows, by index; few at a time.
  const extra = new Map();
  let extraSorted = null;
  function extras() {
    if (!extraSorted) extraSorted = [...extra.entries()].sort((a, b) => a[0] - b[0]);
    return extraSorted;
  }
  function extraBefore(i) {
    let sum = 0;
    for (const [idx, ex] of extras()) { if (idx >= i) break; if (idx >= lo) sum += ex; }
    return sum;
  }
  function totalHeight() { return (hi - lo) * rowH + extraBefore(hi); }
  /** The index of the item at y px from the top of the list. */
  function indexAt(y) {
    let acc = 0;
    for (const [idx, ex] of extras()) {
      if (idx < lo) continue;
      const top = (idx - lo) * rowH + acc;
      if (y < top) break;
      if (y < top + rowH + ex) return idx;
      acc += ex;
    }
    return lo + Math.floor((y - acc) / rowH);
  }

  // Elements of the rows drawn now, by index; and of rows that must survive
  // leaving the view (expanded or selected), by index.
  let drawn = new Map();
  const kept = new Map();
  let drawnFrom = 0;
  let drawnTo = 0;

  const sizes = new ResizeObserver((entries) => {
    let changed = false;
    for (const entry of entries) {
      const node = entry.target;
      if (node === list) { viewH = entry.contentRect.height; rowH = readRowH(); changed = true; continue; }
      // A row taken out of the document reports 0 px: it keeps its height.
      if (!node.isConnected) continue;
      const idx = Number(node.dataset.idx);
      const h = entry.borderBoxSize?.[0]?.blockSize ?? node.getBoundingClientRect().height;
      const ex = node.classList.contains('open') ? Math.max(0, Math.round(h) - rowH) : 0;
      if ((extra.get(idx) || 0) !== ex) {
        if (ex) extra.set(idx, ex); else extra.delete(idx);
        extraSorted = null;
        changed = true;
      }
      if (!ex && !node.classList.contains('open')) sizes.unobserve(node);
    }
    if (changed) scheduleDraw();
  });
  let viewH = 900;
  sizes.observe(list);
  // row.js announces expand/collapse: measure that row while it is open.
  list.addEventListener('wakeline:rowtoggle', (event) => {
    const row = event.target;
    if (!(row instanceof Element) || row.dataset.idx === undefined) return;
    const idx = Number(row.dataset.idx);
    if (row.classList.contains('open')) { kept.set(idx, row); sizes.observe(row); }
  });

  // ------------------------------------------------------------ state
  let queue = [];
  let frame = 0;
  let paused = false;
  let atBottom = true;
  let unseen = 0;
  let received = 0;
  let shown = 0;
  let trimmed = 0;
  let connection = 'connecting';
  let rateCount = 0;
  let rate = 0;
  let countsDirty = true;
  let countsAt = 0;
  // Records that could not wait in the queue (paused, reading, or a hidden
  // tab for too long): shown as one gap row when rendering resumes.
  let skipped = 0;

  function setStatus(state, detail) {
    connection = state;
    const shownState = paused && state === 'live' ? 'paused' : state;
    status.textContent = shownState;
    status.dataset.state = shownState;
    statusWrap.dataset.state = shownState;
    if (detail !== undefined) statusDetail.textContent = detail || '';
    else if (state === 'live') statusDetail.textContent = '';
  }

  function updateCounts() {
    countsDirty = false;
    countsAt = performance.now();
    counts.textContent = `${num(received)} received · ${rate ? `${num(rate)}/s · ` : ''}${num(shown)} shown`;
    if (trimmed) {
      trimmedNote.hidden = false;
      trimmedNote.replaceChildren(`${num(trimmed)} older removed from view · `,
        el('a', { href: `/search${qs(filters)}` }, 'search them'));
    }
    if (!atBottom) showUnseen();
  }

  // One callback a frame does everything: take the queue, then draw.
  let drawWanted = false; // the view moved or changed size: draw next frame
  function wake() {
    if (!frame) frame = requestAnimationFrame(onFrame);
  }
  function scheduleDraw() {
    drawWanted = true;
    wake();
  }
  function schedule() {
    if (!paused) wake();
  }

  function enqueue(item) {
    queue.push(item);
    if (queue.length > MAX_ROWS * 1.2) {
      // Only the newest MAX_ROWS could be shown anyway.
      const drop = queue.length - MAX_ROWS;
      for (let i = 0; i < drop; i += 1) skipped += queue[i].gap !== undefined ? queue[i].gap : 1;
      queue = queue.slice(drop);
    }
    countsDirty = true;
    schedule();
  }

  function showUnseen() {
    let waiting = 0;
    for (const it of queue) if (it.gap === undefined) waiting += 1;
    const n = unseen + waiting + skipped;
    newLines.hidden = n === 0;
    newLines.textContent = `↓ ${num(n)} new line${n === 1 ? '' : 's'}`;
  }

  /** Moves queued records into the ring; true when the ring changed. */
  function take() {
    if (paused || (!queue.length && !skipped)) return false;
    const incoming = [];
    // At the bottom, only the newest of a large batch can stay: the rest join
    // the gap notice (they were never shown).
    const from = atBottom ? Math.max(0, queue.length - (MAX_ROWS - 1)) : 0;
    for (let i = 0; i < from; i += 1) skipped += queue[i].gap !== undefined ? queue[i].gap : 1;
    if (skipped) {
      incoming.push({ gap: skipped, why: 'not shown while the view was paused or scrolled up; search has them' });
      skipped = 0;
    }
    if (atBottom) {
      for (let i = from; i < queue.length; i += 1) incoming.push(queue[i]);
      queue = [];
      // Bound the ring before adding: the oldest items go (the reader is at the bottom).
      const excess = hi - lo + incoming.length - MAX_ROWS;
      if (excess > 0) {
        for (let i = lo; i < lo + excess; i += 1) {
          if (itemAt(i).gap === undefined) { shown -= 1; trimmed += 1; }
          ring[i % MAX_ROWS] = undefined;
          if (extra.delete(i)) extraSorted = null;
          kept.delete(i);
        }
        lo += excess;
      }
    } else {
      // The reader is further up: add below while there is room, never
      // remove items above them; the rest waits for the jump back down.
      const room = MAX_ROWS - (hi - lo) - incoming.length;
      if (room < 0 || (room === 0 && !incoming.length)) {
        if (incoming.length) skipped = incoming[0].gap;
        return false;
      }
      for (let i = 0; i < Math.min(room, queue.length); i += 1) incoming.push(queue[i]);
      queue = queue.slice(room);
    }
    let added = 0;
    for (const item of incoming) {
      ring[hi % MAX_ROWS] = item;
      hi += 1;
      if (item.gap === undefined) added += 1;
    }
    shown += added;
    if (!atBottom) unseen += added;
    countsDirty = true;
    return true;
  }

  function rowFor(i) {
    let node = drawn.get(i) || kept.get(i);
    if (node) return node;
    const it = itemAt(i);
    node = it.gap !== undefined ? gapRow(it.gap, it.why) : renderRow(it, { terms, now: Date.now() });
    node.dataset.idx = String(i);
    return node;
  }

  // The scroll position this page set itself: its scroll event is not the
  // user leaving the bottom, even if rows were added meanwhile.
  let ownTop = -1;
  let scrollTop = 0;

  function draw() {
    if (hi > lo) empty.hidden = true;
    const total = totalHeight();
    if (atBottom) scrollTop = Math.max(0, total - viewH);
    let from = Math.max(lo, indexAt(scrollTop) - OVERSCAN);
    let to = Math.min(hi, indexAt(scrollTop + viewH) + 1 + OVERSCAN);
    if (to < from) to = from;
    if (from < lo) from = lo;

    // Reconcile: rows [from, to) between the spacers, in order; nothing read.
    const next = new Map();
    let prevNode = topSpace;
    for (let i = from; i < to; i += 1) {
      const node = rowFor(i);
      next.set(i, node);
      if (prevNode.nextSibling !== node) prevNode.after(node);
      prevNode = node;
    }
    for (const [i, node] of drawn) {
      if (next.has(i)) continue;
      if (i >= lo && node.classList.contains('open')) kept.set(i, node);
      else if (kept.get(i) === node) kept.delete(i);
      node.remove();
    }
    // Rows no longer wanted that were kept but are gone from the ring or plain again.
    for (const [i, node] of kept) {
      if (i < lo || !node.classList.contains('open')) {
        if (!next.has(i)) kept.delete(i);
      }
    }
    drawn = next;
    drawnFrom = from;
    drawnTo = to;
    topSpace.style.height = `${(from - lo) * rowH + extraBefore(from) - extraBefore(lo)}px`;
    bottomSpace.style.height = `${(hi - to) * rowH + extraBefore(hi) - extraBefore(to)}px`;
    if (atBottom) {
      list.scrollTop = total; // clamped to the bottom
      ownTop = list.scrollTop;
      scrollTop = ownTop;
    }
  }

  // Following a fast stream replaces the whole screenful of rows at each draw,
  // and the new rows' style and layout are most of a frame's cost (profiled:
  // 5–12 ms a draw on a busy 2-core VM). So draws for new records come at most
  // every FOLLOW_MIN_MS (a line still shows within 50 ms: no one reads 5,000
  // lines/s at 60 Hz), and when a draw costs more, the next one waits
  // FOLLOW_SPACING times as long, so drawing takes at most a third of the main
  // thread and the frames between stay cheap. A scroll or a resize is drawn in
  // the next frame regardless.
  let followAt = 0;
  function onFrame(now) {
    frame = 0;
    let owed = false;
    if (drawWanted || now >= followAt) {
      const took = take();
      if (took || drawWanted) {
        drawWanted = false;
        const start = performance.now();
        draw();
        const end = performance.now();
        followAt = Math.max(now + FOLLOW_MIN_MS, end + (end - start) * FOLLOW_SPACING) - 2;
      }
    } else {
      owed = !paused && (queue.length > 0 || skipped > 0);
    }
    if (countsDirty && performance.now() - countsAt >= COUNTS_EVERY_MS) updateCounts();
    // Records or counters owed: come back for them (cheap frames, no drawing).
    if (owed || countsDirty) wake();
  }

  list.addEventListener('scroll', () => {
    const top = list.scrollTop;
    if (top === ownTop) return;
    ownTop = -1;
    scrollTop = top;
    const was = atBottom;
    atBottom = list.scrollHeight - top - list.clientHeight <= BOTTOM_SLACK;
    if (atBottom && !was) {
      unseen = 0;
      newLines.hidden = true;
    } else if (!atBottom && was) {
      showUnseen();
    }
    // Redraw when the view nears the edge of the drawn rows.
    const first = indexAt(top);
    const last = indexAt(top + viewH);
    if (atBottom !== was || first - OVERSCAN / 2 < drawnFrom || last + OVERSCAN / 2 >= drawnTo) scheduleDraw();
  }, { passive: true });

  newLines.addEventListener('click', () => {
    atBottom = true;
    unseen = 0;
    newLines.hidden = true;
    scheduleDraw();
  });

  function setPaused(p) {
    paused = p;
    pauseButton.textContent = p ? 'Resume' : 'Pause';
    pauseButton.setAttribute('aria-pressed', String(p));
    setStatus(connection, undefined);
    if (!p) { schedule(); statusDetail.textContent = ''; }
  }
  pauseButton.addEventListener('click', () => setPaused(!paused));
  clearButton.addEventListener('click', () => {
    for (const node of drawn.values()) node.remove();
    drawn = new Map();
    kept.clear();
    extra.clear();
    extraSorted = null;
    ring.fill(undefined);
    lo = hi;
    shown = 0;
    unseen = 0;
    trimmed = 0;
    trimmedNote.hidden = true;
    newLines.hidden = true;
    atBottom = true;
    updateCounts();
    scheduleDraw();
  });
  setPaused(false);

  const rateTimer = setInterval(() => {
    rate = rateCount;
    rateCount = 0;
    updateCounts();
    if (paused && queue.length) statusDetail.textContent = `${num(queue.length)} line${queue.length === 1 ? '' : 's'} waiting`;
  }, 1000);

  const feed = openLive(filters, { tail: TAIL }, {
    onRecord(rec) { received += 1; rateCount += 1; enqueue(rec); },
    onGap(dropped) { enqueue({ gap: dropped }); },
    onStatus(state, detail) {
      setStatus(state, detail);
      if (state === 'live' && !shown && !queue.length) empty.textContent = 'No matching lines yet; new ones appear here as they are written.';
    },
    onError(e) {
      if (e.status === 400) bar.setError(e.detail || e.error);
      empty.textContent = e.status === 400 ? 'Fix the query to see lines.' : (e.detail || e.error);
    },
  });
  updateCounts();

  return () => {
    feed.close();
    cancelAnimationFrame(frame);
    clearInterval(rateTimer);
    sizes.disconnect();
  };
}
