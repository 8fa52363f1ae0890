// live.js — `/`: the merged live stream of every container, newest at the bottom.
//
// It opens /api/live with the URL's filters and `tail=300`, then follows.
// Records can arrive thousands a second, so they are only queued when they
// arrive; one requestAnimationFrame callback renders what gathered as one
// DocumentFragment. The list keeps at most MAX_ROWS rows: older ones are
// removed from the top (a notice says how many), and while the user reads
// further up the scroll position is corrected so nothing moves under their
// eyes. Auto-scroll follows the bottom only while the view is at the bottom;
// otherwise a "N new lines" button offers to jump back. Pause stops
// rendering (records keep queueing, bounded the same way). A dropped socket
// is reopened with backoff, resuming after the last seq seen (api.js).

import { el } from './el.js';
import { openLive, qs } from './api.js';
import { renderRow, gapRow, bindRows, termsRegex } from './row.js';
import { filterBar, filtersOf, withFilter } from './filters.js';
import { num } from './format.js';

export const MAX_ROWS = 5000;
const TAIL = 300;
const BOTTOM_SLACK = 24;

export function mount(root, ctx) {
  const filters = filtersOf(ctx.params);
  const apply = (next) => ctx.setParams(next);
  const bar = filterBar(ctx.params, { onApply: apply, submitLabel: 'Apply' });

  const status = el('span', { id: 'status', class: 'status', dataset: { state: 'connecting' } }, 'connecting');
  const statusDetail = el('span', { id: 'status-detail', class: 'muted status-detail' });
  const pauseButton = el('button', { id: 'pause', type: 'button', class: 'btn', 'aria-pressed': 'false' }, 'Pause');
  const clearButton = el('button', { type: 'button', class: 'btn', title: 'remove every line from the view' }, 'Clear');
  const counts = el('span', { class: 'muted counts', 'aria-live': 'off' });
  const trimmedNote = el('span', { class: 'muted trimmed', hidden: true });
  const list = el('div', {
    id: 'live-rows', class: 'rows', role: 'log', 'aria-label': 'live log lines', dataset: { rows: '' },
  });
  const newLines = el('button', { id: 'new-lines', type: 'button', class: 'new-lines', hidden: true }, '');
  const empty = el('div', { class: 'empty' }, 'Waiting for lines…');

  const section = el('section', { id: 'live', class: 'page page-fill' },
    bar.form,
    el('div', { class: 'toolbar' },
      el('span', { class: 'status-wrap' }, el('span', { class: 'dot', 'aria-hidden': 'true' }), status),
      statusDetail,
      el('span', { class: 'spacer' }),
      trimmedNote, counts, pauseButton, clearButton),
    bar.error,
    bar.chips,
    el('div', { class: 'rows-wrap' }, list, empty, newLines));
  root.append(section);

  const terms = termsRegex(filters.q);
  bindRows(list, { onFilter: (key, value) => apply(withFilter(filters, key, value)) });

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

  function setStatus(state, detail) {
    connection = state;
    const shownState = paused && state === 'live' ? 'paused' : state;
    status.textContent = shownState;
    status.dataset.state = shownState;
    if (detail !== undefined) statusDetail.textContent = detail || '';
    else if (state === 'live') statusDetail.textContent = '';
  }

  function updateCounts() {
    counts.textContent = `${num(received)} received · ${rate ? `${num(rate)}/s · ` : ''}${num(shown)} shown`;
    if (trimmed) {
      trimmedNote.hidden = false;
      trimmedNote.replaceChildren(`${num(trimmed)} older removed from view · `,
        el('a', { href: `/search${qs(filters)}` }, 'search them'));
    }
  }

  function schedule() {
    if (!paused && !frame) frame = requestAnimationFrame(flush);
  }

  function enqueue(item) {
    queue.push(item);
    if (queue.length > MAX_ROWS * 1.2) {
      // Only the newest MAX_ROWS could stay in the view anyway.
      const drop = queue.length - MAX_ROWS;
      queue = queue.slice(drop);
      trimmed += drop;
    }
    schedule();
  }

  function flush() {
    frame = 0;
    if (paused || !queue.length) return;
    const items = queue;
    queue = [];
    const now = Date.now();
    const frag = document.createDocumentFragment();
    let added = 0;
    for (const item of items) {
      if (item.gap !== undefined) frag.appendChild(gapRow(item.gap));
      else { frag.appendChild(renderRow(item, { terms, now })); added += 1; }
    }
    empty.hidden = true;
    list.appendChild(frag);
    shown += added;
    // Cap the DOM: remove the oldest rows, keeping the reader's place.
    const excess = list.childElementCount - MAX_ROWS;
    if (excess > 0) {
      const anchor = atBottom ? null : list.children[excess];
      const before = anchor ? anchor.offsetTop : 0;
      let removedRows = 0;
      for (let i = 0; i < excess; i += 1) {
        const first = list.firstElementChild;
        if (first.classList.contains('row')) removedRows += 1;
        if (first.classList.contains('selected')) first.classList.remove('selected');
        first.remove();
      }
      shown -= removedRows;
      trimmed += removedRows;
      if (anchor) list.scrollTop -= before - anchor.offsetTop;
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
    else {
      unseen += added;
      newLines.hidden = unseen === 0;
      newLines.textContent = `↓ ${num(unseen)} new line${unseen === 1 ? '' : 's'}`;
    }
    updateCounts();
  }

  list.addEventListener('scroll', () => {
    atBottom = list.scrollHeight - list.scrollTop - list.clientHeight <= BOTTOM_SLACK;
    if (atBottom && unseen) { unseen = 0; newLines.hidden = true; }
  }, { passive: true });

  newLines.addEventListener('click', () => {
    atBottom = true;
    unseen = 0;
    newLines.hidden = true;
    list.scrollTop = list.scrollHeight;
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
    list.replaceChildren();
    shown = 0;
    unseen = 0;
    trimmed = 0;
    trimmedNote.hidden = true;
    newLines.hidden = true;
    atBottom = true;
    updateCounts();
  });
  setPaused(false);

  const rateTimer = setInterval(() => {
    rate = rateCount;
    rateCount = 0;
    updateCounts();
    if (paused && queue.length) statusDetail.textContent = `${num(queue.length)} lines waiting`;
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
  };
}
