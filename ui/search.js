// search.js — `/search`: the query, a time range, the volume chart, results.
//
// Everything comes from the URL (`q`, the filters, `since`, `until`,
// `follow=1`): the page asks /api/search and /api/histogram in parallel and
// renders both. Results are newest first; more pages load when the end of the
// list comes into view (IntersectionObserver, `next_cursor`). Dragging across
// the chart narrows the time range by navigating to a new URL. Follow turns
// the search into a live view without a seam: the search's `watermark` (the
// highest seq it saw) is handed to /api/live as `after_seq`, and new lines are
// put at the top, batched per animation frame, while the reader's place in
// the list is kept.

import { el } from './el.js';
import { api, openLive, exportUrl } from './api.js';
import { renderRow, bindRows, termsRegex } from './row.js';
import { filterBar, filtersOf, withFilter } from './filters.js';
import { createChart } from './chart.js';
import { num, tsMillis, toLocalInput, fromLocalInput } from './format.js';

const PAGE = 100;
const PRESETS = ['15m', '1h', '24h', '7d'];
const MAX_ROWS = 5000;

function isAbsolute(value) { return /^\d{4}-\d{2}-\d{2}T/.test(value || ''); }

/** How many buckets suit the chart's width. */
function bucketCount(width) {
  return Math.max(20, Math.min(150, Math.floor(width / 9)));
}

export function mount(root, ctx) {
  const p = ctx.params;
  const filters = filtersOf(p);
  const since = p.get('since') || '';
  const until = p.get('until') || '';
  const follow = p.get('follow') === '1';
  const range = { since, until };
  const controller = new AbortController();
  const signal = controller.signal;

  const go = (next) => ctx.setParams(next);
  const state = () => ({ ...filters, ...range, follow: follow ? '1' : '' });
  const bar = filterBar(p, { onApply: (f) => go({ ...f, ...range, follow: follow ? '1' : '' }), help: true });

  // -------------------------------------------------------------- time range
  const presetButtons = [...PRESETS, 'all'].map((preset) => el('button', {
    type: 'button', class: 'btn seg',
    'aria-pressed': String(preset === 'all' ? !since && !until : since === preset && !until),
    title: preset === 'all' ? 'every line in the index' : `the last ${preset}`,
    onclick: () => go({ ...state(), since: preset === 'all' ? '' : preset, until: '' }),
  }, preset));
  const from = el('input', {
    type: 'datetime-local', step: '1', 'aria-label': 'from (local time)',
    value: isAbsolute(since) ? toLocalInput(tsMillis(since)) : '',
  });
  const to = el('input', {
    type: 'datetime-local', step: '1', 'aria-label': 'to (local time)',
    value: isAbsolute(until) ? toLocalInput(tsMillis(until)) : '',
  });
  const applyRange = () => {
    const a = from.value ? fromLocalInput(from.value) : null;
    const b = to.value ? fromLocalInput(to.value) : null;
    go({ ...state(), since: a !== null ? new Date(a).toISOString() : '', until: b !== null ? new Date(b).toISOString() : '' });
  };
  from.addEventListener('change', applyRange);
  to.addEventListener('change', applyRange);
  const followBox = el('input', { id: 'follow', type: 'checkbox', checked: follow });
  followBox.addEventListener('change', () => go({ ...state(), follow: followBox.checked ? '1' : '' }));
  const exportParams = { ...filters, ...range, order: 'asc' };
  for (const k of Object.keys(exportParams)) if (!exportParams[k]) delete exportParams[k];

  const timebar = el('div', { class: 'timebar' },
    el('span', { class: 'seg-group', role: 'group', 'aria-label': 'time range' }, presetButtons),
    el('label', { class: 'range' }, el('span', { class: 'muted' }, 'from'), from),
    el('label', { class: 'range' }, el('span', { class: 'muted' }, 'to'), to),
    el('label', { class: 'follow', title: 'keep adding new matching lines at the top' },
      followBox, ' Follow', el('span', { id: 'follow-state', class: 'muted' })),
    el('span', { class: 'spacer' }),
    el('span', { class: 'downloads' }, el('span', { class: 'muted' }, 'download'),
      el('a', { id: 'download-ndjson', class: 'btn small', href: exportUrl(exportParams, 'ndjson'), download: 'wakeline-search.ndjson' }, 'NDJSON'),
      el('a', { id: 'download-text', class: 'btn small', href: exportUrl(exportParams, 'text'), download: 'wakeline-search.log' }, 'text')));

  // -------------------------------------------------------------- layout
  const chartBox = el('div', { class: 'chart-area' });
  const total = el('span', { id: 'total', class: 'total' }, '…');
  const took = el('span', { class: 'muted' });
  const followCount = el('span', { id: 'follow-count', class: 'muted' });
  const results = el('div', {
    id: 'results', class: 'rows', role: 'feed', 'aria-busy': 'true', 'aria-label': 'matching lines, newest first',
    dataset: { rows: '' },
  });
  const sentinel = el('div', { class: 'sentinel muted' }, 'loading…');
  results.append(sentinel);
  root.append(el('section', { id: 'search', class: 'page page-fill' },
    bar.form, bar.error, bar.chips, timebar, chartBox,
    el('div', { class: 'summary' }, total, took, followCount),
    el('div', { class: 'rows-wrap' }, results)));

  const terms = termsRegex(filters.q);
  bindRows(results, { onFilter: (key, value) => go({ ...withFilter(filters, key, value), ...range, follow: follow ? '1' : '' }) });

  const chart = createChart(chartBox, {
    onSelect: (a, b) => go({ ...filters, since: new Date(a).toISOString(), until: new Date(b).toISOString() }),
    onLevel: (level) => go({ ...filters, level, ...range, follow: follow ? '1' : '' }),
  });

  // -------------------------------------------------------------- results
  const query = { ...filters };
  if (since) query.since = since;
  if (until) query.until = until;
  let cursor = null;
  let loading = false;
  let feed = null;
  let frame = 0;
  let queue = [];
  let added = 0;

  function showError(e) {
    if (e.name === 'AbortError') return;
    if (e.status === 400) {
      bar.setError(e.detail || e.error);
      total.textContent = '';
      sentinel.textContent = 'Fix the query to see results.';
    } else {
      sentinel.textContent = `Search failed: ${e.detail || e.error || e}`;
    }
    results.setAttribute('aria-busy', 'false');
  }

  function appendHits(hits) {
    const now = Date.now();
    const frag = document.createDocumentFragment();
    for (const rec of hits) frag.appendChild(renderRow(rec, { terms, now }));
    if (frag.querySelector('.ts[data-dated]')) results.classList.add('has-dates');
    results.insertBefore(frag, sentinel);
  }

  async function loadMore() {
    if (loading || !cursor) return;
    loading = true;
    try {
      const page = await api.search({ ...query, limit: PAGE, cursor }, signal);
      appendHits(page.hits);
      cursor = page.next_cursor;
      updateSentinel();
    } catch (e) {
      showError(e);
      cursor = null;
    } finally {
      loading = false;
    }
    // A tall screen may still show the sentinel: keep going.
    if (cursor && sentinelVisible()) loadMore();
  }

  function sentinelVisible() {
    const a = sentinel.getBoundingClientRect();
    const b = results.getBoundingClientRect();
    return a.top < b.bottom + 200;
  }

  function updateSentinel() {
    const rows = results.querySelectorAll(':scope > .row').length;
    if (cursor) sentinel.textContent = 'loading more…';
    else if (!rows) sentinel.textContent = 'No lines match.';
    else sentinel.textContent = `end of results · ${num(rows)} lines`;
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { root: results, rootMargin: '300px' });

  // -------------------------------------------------------------- follow
  function flushLive() {
    frame = 0;
    if (!queue.length) return;
    const batch = queue;
    queue = [];
    const now = Date.now();
    const frag = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i -= 1) {
      const item = batch[i];
      if (item.gap !== undefined) {
        frag.appendChild(el('div', { class: 'gap', role: 'note', dataset: { dropped: item.gap } },
          `⋯ ${item.gap} lines skipped — this view fell behind the stream`));
      } else frag.appendChild(renderRow(item, { terms, now }));
    }
    const keep = results.scrollTop > 2;
    const height = results.scrollHeight;
    const top = results.scrollTop;
    results.prepend(frag);
    if (keep) results.scrollTop = top + (results.scrollHeight - height);
    // Bound the list: drop the oldest rows at the bottom; paging stops there.
    const excess = results.childElementCount - 1 - MAX_ROWS;
    if (excess > 0) {
      for (let i = 0; i < excess; i += 1) sentinel.previousElementSibling?.remove();
      cursor = null;
      sentinel.textContent = `showing the newest ${num(MAX_ROWS)} lines; search again for older ones`;
    }
    followCount.textContent = `· +${num(added)} since the search`;
  }

  function startFollow(afterSeq) {
    const followState = document.getElementById('follow-state');
    feed = openLive(filters, { afterSeq }, {
      onRecord(rec) {
        added += 1;
        queue.push(rec);
        if (queue.length > MAX_ROWS) queue = queue.slice(-MAX_ROWS);
        if (!frame) frame = requestAnimationFrame(flushLive);
      },
      onGap(dropped) {
        queue.push({ gap: dropped });
        if (!frame) frame = requestAnimationFrame(flushLive);
      },
      onStatus(s, detail) {
        if (followState) {
          followState.textContent = ` (${s})`;
          followState.title = detail || '';
          followState.dataset.state = s;
        }
      },
      onError(e) { if (e.status === 400) bar.setError(e.detail || e.error); },
    });
  }

  // -------------------------------------------------------------- go
  const first = api.search({ ...query, limit: PAGE }, signal);
  const hist = api.histogram({ ...query, buckets: bucketCount(chartBox.clientWidth || 800) }, signal);
  chart.loading(true);

  first.then((page) => {
    bar.setError('');
    total.textContent = `${num(page.total)} line${page.total === 1 ? '' : 's'}`;
    total.dataset.total = String(page.total);
    took.textContent = `· ${num(page.took_ms ?? 0)} ms`;
    appendHits(page.hits);
    cursor = page.next_cursor;
    updateSentinel();
    results.setAttribute('aria-busy', 'false');
    observer.observe(sentinel);
    if (follow) {
      let watermark = page.watermark;
      if (typeof watermark !== 'number') watermark = page.hits.reduce((m, r) => Math.max(m, r.seq), 0);
      startFollow(watermark);
    }
  }).catch(showError);

  hist.then((data) => {
    chart.loading(false);
    chart.update(data);
  }).catch((e) => {
    chart.loading(false);
    if (e.name === 'AbortError') return;
    chart.update(null);
    if (e.status !== 400) chartBox.append(el('div', { class: 'chart-error muted' }, `chart unavailable: ${e.detail || e.error}`));
  });

  return () => {
    controller.abort();
    observer.disconnect();
    chart.destroy();
    feed?.close();
    cancelAnimationFrame(frame);
  };
}

