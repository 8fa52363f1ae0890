// live.js — `/`: the merged live stream of every container, newest at the bottom.
//
// It opens /api/live with the URL's filters and `tail=300`, then follows.
// Records can arrive thousands a second, so they are only queued when they
// arrive; one requestAnimationFrame callback renders what gathered as one
// DocumentFragment. The list keeps at most MAX_ROWS rows: at the bottom the
// oldest are removed from the top (a notice says how many). Auto-scroll
// follows the bottom only while the view is at the bottom; when the user has
// scrolled up, nothing above them is ever removed: rows are added below until
// the list is full, then new records wait (bounded; what overflows becomes a
// gap row) and a "N new lines" button offers to jump back. Pause stops
// rendering the same way. A dropped socket is reopened with backoff,
// resuming after the last seq seen (api.js).

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
  const statusWrap = el('span', { class: 'status-wrap', dataset: { state: 'connecting' } },
    el('span', { class: 'dot', 'aria-hidden': 'true' }), status);
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
    statusWrap.dataset.state = shownState;
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

  // Records that could not wait in the queue (paused, reading, or a hidden
  // tab for too long): shown as one gap row when rendering resumes.
  let skipped = 0;

  function enqueue(item) {
    queue.push(item);
    if (queue.length > MAX_ROWS * 1.2) {
      // Only the newest MAX_ROWS could be shown anyway.
      const drop = queue.length - MAX_ROWS;
      for (const it of queue.slice(0, drop)) skipped += it.gap !== undefined ? it.gap : 1;
      queue = queue.slice(drop);
    }
    if (!atBottom) showUnseen();
    schedule();
  }

  function showUnseen() {
    const n = unseen + queue.reduce((c, it) => c + (it.gap === undefined ? 1 : 0), 0) + skipped;
    newLines.hidden = n === 0;
    newLines.textContent = `↓ ${num(n)} new line${n === 1 ? '' : 's'}`;
  }

  function flush() {
    frame = 0;
    if (paused || !queue.length) return;
    let items;
    if (atBottom) {
      items = queue;
      queue = [];
    } else {
      // The reader is further up: add below while there is room, never
      // remove rows above them; the rest waits for the jump back down.
      const room = MAX_ROWS - list.childElementCount;
      if (room <= 0) { showUnseen(); return; }
      items = queue.slice(0, room);
      queue = queue.slice(room);
    }
    const now = Date.now();
    const frag = document.createDocumentFragment();
    if (skipped) {
      frag.appendChild(gapRow(skipped, 'not shown while the view was paused or scrolled up; search has them'));
      skipped = 0;
    }
    let added = 0;
    for (const item of items) {
      if (item.gap !== undefined) frag.appendChild(gapRow(item.gap));
      else { frag.appendChild(renderRow(item, { terms, now })); added += 1; }
    }
    empty.hidden = true;
    list.appendChild(frag);
    shown += added;
    if (atBottom) {
      // Cap the DOM: the oldest rows go (the reader is at the bottom).
      const excess = list.childElementCount - MAX_ROWS;
      let removedRows = 0;
      for (let i = 0; i < excess; i += 1) {
        const first = list.firstElementChild;
        if (first.classList.contains('row')) removedRows += 1;
        first.remove();
      }
      shown -= removedRows;
      trimmed += removedRows;
      toBottom();
    } else {
      unseen += added;
      showUnseen();
    }
    updateCounts();
  }

  // The scroll position this page set itself: its scroll event is not the
  // user leaving the bottom, even if rows were added meanwhile.
  let ownTop = -1;
  function toBottom() {
    list.scrollTop = list.scrollHeight;
    ownTop = list.scrollTop;
  }

  list.addEventListener('scroll', () => {
    if (list.scrollTop === ownTop) return;
    const was = atBottom;
    atBottom = list.scrollHeight - list.scrollTop - list.clientHeight <= BOTTOM_SLACK;
    if (atBottom && !was) {
      unseen = 0;
      newLines.hidden = true;
      schedule();
    }
  }, { passive: true });

  newLines.addEventListener('click', () => {
    atBottom = true;
    unseen = 0;
    newLines.hidden = true;
    toBottom();
    schedule();
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
