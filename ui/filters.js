// filters.js — the filter bar of the live and search pages.
//
// The URL is the state: the bar is built from the page's URLSearchParams and
// hands the edited filters back to the page (`onApply`), which navigates to a
// new URL; the page then renders again from it. Parameter names are the
// API's (`q`, `container`, `service`, `level`, `stream`, `request_id`), so a
// page URL's query string is also the API call's filters.

import { el, clear } from './el.js';
import { api, FILTER_KEYS, pick } from './api.js';
import { LEVELS } from './format.js';

let knownContainers = null;
let knownAt = 0;

/** Container and service names for the inputs' suggestions (cached 30 s). */
export function containerNames() {
  if (!knownContainers || Date.now() - knownAt > 30000) {
    knownAt = Date.now();
    knownContainers = api.containers().then((d) => d.containers || []).catch(() => []);
  }
  return knownContainers;
}

/** The filters of a URL, as a plain object with the API's names. */
export function filtersOf(params) {
  return pick(params, FILTER_KEYS);
}

/** `q` with `clause` added (ANDed), unless it is already there. */
export function addClause(q, clause) {
  const current = (q || '').trim();
  if (!current) return clause;
  if (current.includes(clause)) return current;
  return /\bOR\b/.test(current) ? `(${current}) AND ${clause}` : `${current} ${clause}`;
}

/** The filters after clicking a value: `q` gets a clause, other keys are set. */
export function withFilter(filters, key, value) {
  const next = { ...filters };
  if (key === 'q') next.q = addClause(filters.q, value);
  else next[key] = value;
  return next;
}

const SYNTAX = [
  ['timeout', 'lines with the word (any case)'],
  ['"connection reset"', 'a phrase'],
  ['level:error', 'a record field: container, service, stream, level, request_id…'],
  ['fields.user_id:42', 'a parsed JSON / logfmt key (or just user_id:42)'],
  ['fields.duration_ms:[500 TO *]', 'a numeric range'],
  ['timeout AND NOT container:db', 'AND, OR, NOT, ( )'],
  ['fields.user_id:*', 'has a value'],
];

function syntaxHelp(input) {
  const details = el('details', { class: 'syntax' },
    el('summary', { title: 'query syntax' }, 'syntax'),
    el('div', { class: 'syntax-panel' },
      el('p', null, 'Terms are ANDed. Click an example to use it.'),
      el('dl', null, SYNTAX.map(([example, what]) => [
        el('dt', null, el('button', {
          type: 'button', class: 'example',
          onclick: () => {
            input.value = example;
            input.focus();
            details.open = false;
          },
        }, example)),
        el('dd', null, what),
      ]))));
  return details;
}

/**
 * Builds the bar. opts.onApply(filters) is called with the edited filters;
 * opts.help adds the syntax panel; opts.extra are nodes appended to the bar.
 */
export function filterBar(params, opts) {
  const f = filtersOf(params);
  const q = el('input', {
    id: 'q', type: 'search', name: 'q', value: f.q || '', autocomplete: 'off', spellcheck: false,
    placeholder: 'text, "phrase", field:value, AND/OR/NOT  ( / )',
    'aria-label': 'query', 'aria-describedby': 'query-error',
  });
  const error = el('div', { id: 'query-error', class: 'query-error', role: 'alert', hidden: true });
  const container = el('input', {
    name: 'container', value: f.container || '', list: 'dl-containers', autocomplete: 'off',
    placeholder: 'container', 'aria-label': 'container (comma-separated for several)', class: 'small-input',
  });
  const service = el('input', {
    name: 'service', value: f.service || '', list: 'dl-services', autocomplete: 'off',
    placeholder: 'service', 'aria-label': 'service (comma-separated for several)', class: 'small-input',
  });
  const stream = el('select', { name: 'stream', 'aria-label': 'stream' },
    el('option', { value: '' }, 'any stream'),
    el('option', { value: 'stdout', selected: f.stream === 'stdout' }, 'stdout'),
    el('option', { value: 'stderr', selected: f.stream === 'stderr' }, 'stderr'));
  const chosen = new Set((f.level || '').split(',').filter(Boolean));
  const levelButtons = LEVELS.map((level) => el('button', {
    type: 'button', class: `lvl-toggle level-${level}`, 'aria-pressed': String(chosen.has(level)),
    title: `only ${level} lines (toggle; several = any of them)`,
    onclick: () => {
      if (chosen.has(level)) chosen.delete(level); else chosen.add(level);
      submit();
    },
  }, level));
  const containersList = el('datalist', { id: 'dl-containers' });
  const servicesList = el('datalist', { id: 'dl-services' });
  containerNames().then((list) => {
    clear(containersList, [...new Set(list.map((c) => c.name))].sort().map((n) => el('option', { value: n })));
    clear(servicesList, [...new Set(list.map((c) => c.service).filter(Boolean))].sort().map((n) => el('option', { value: n })));
  });

  function current() {
    const next = { ...f };
    for (const [key, input] of [['q', q], ['container', container], ['service', service], ['stream', stream]]) {
      const v = input.value.trim();
      if (v) next[key] = v; else delete next[key];
    }
    const levels = LEVELS.filter((l) => chosen.has(l));
    if (levels.length) next.level = levels.join(','); else delete next.level;
    return next;
  }
  function submit() { opts.onApply(current()); }

  const form = el('form', {
    class: 'filters', role: 'search',
    onsubmit: (e) => { e.preventDefault(); submit(); },
  },
  el('div', { class: 'qbox' }, q, opts.help ? syntaxHelp(q) : null,
    el('button', { type: 'submit', class: 'btn primary' }, opts.submitLabel || 'Run')),
  el('div', { class: 'fgroup' },
    container, service, stream,
    el('span', { class: 'lvl-group', role: 'group', 'aria-label': 'levels' }, levelButtons)),
  opts.extra || null,
  containersList, servicesList);
  container.addEventListener('change', submit);
  service.addEventListener('change', submit);
  stream.addEventListener('change', submit);

  const chips = filterChips(f, (next) => opts.onApply(next));
  return {
    form,
    error,
    chips,
    /** Shows a bad query's message beside the box (empty hides it). */
    setError(message) {
      error.textContent = message || '';
      error.hidden = !message;
      q.setAttribute('aria-invalid', message ? 'true' : 'false');
    },
  };
}

/** Removable chips for the active filters other than the query. */
export function filterChips(f, onApply) {
  const keys = ['container', 'service', 'level', 'stream', 'request_id'].filter((k) => f[k]);
  const box = el('div', { class: 'chips', 'aria-label': 'active filters' });
  if (!keys.length) { box.hidden = true; return box; }
  for (const key of keys) {
    box.appendChild(el('span', { class: 'chip' },
      el('span', { class: 'chip-key' }, key), ' ', f[key],
      el('button', {
        type: 'button', class: 'chip-x', 'aria-label': `remove the ${key} filter`, title: 'remove',
        onclick: () => { const next = { ...f }; delete next[key]; onApply(next); },
      }, '×')));
  }
  box.appendChild(el('button', {
    type: 'button', class: 'btn link small',
    onclick: () => onApply({}),
  }, 'clear all'));
  return box;
}
