// api.js — every request this UI makes to the collector goes through here.
//
// One place owns fetch and the WebSocket so that errors take one shape,
// `ApiError {status, error, detail}` (the server's JSON body, or a network
// failure as status 0), and so that a 401 from any call sends the user to the
// login page, once, wherever it happened. Parameters are passed as plain
// objects; empty values are left out because the API refuses unknown or
// malformed parameters with a 400 rather than ignoring them.

export class ApiError extends Error {
  constructor(status, error, detail) {
    super(detail ? `${error}: ${detail}` : error);
    this.status = status;
    this.error = error;
    this.detail = detail || '';
  }
}

let unauthorized = () => {};
/** Registers what to do when the server answers 401 (the router shows login). */
export function onUnauthorized(fn) { unauthorized = fn; }

/** Filters understood by both /api/search and /api/live. */
export const FILTER_KEYS = ['q', 'request_id', 'container', 'service', 'level', 'stream'];

/** A query string from an object, leaving out empty values. */
export function qs(params) {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === '') continue;
    out.set(k, String(v));
  }
  const s = out.toString();
  return s ? `?${s}` : '';
}

/** Picks `keys` from a URLSearchParams or object into a plain object. */
export function pick(source, keys) {
  const get = source instanceof URLSearchParams ? (k) => source.get(k) : (k) => source[k];
  const out = {};
  for (const k of keys) {
    const v = get(k);
    if (v !== null && v !== undefined && v !== '') out[k] = v;
  }
  return out;
}

async function call(method, path, { params, form, signal } = {}) {
  let response;
  // A GET is tried twice: Chromium aborts requests, loopback ones too, with
  // ERR_NETWORK_CHANGED whenever Docker adds or removes a container's network
  // interface, which on a Docker host is all the time.
  for (let attempt = 1; ; attempt++) {
    try {
      response = await fetch(path + qs(params), {
        method,
        signal,
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        body: form ? new URLSearchParams(form) : undefined,
      });
      break;
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      if (method === 'GET' && attempt < 2) continue;
      throw new ApiError(0, 'network error', 'the collector did not answer; is it running?');
    }
  }
  if (response.status === 401 && !path.startsWith('/api/login')) unauthorized();
  if (response.status === 204) return null;
  let body = null;
  const text = await response.text();
  if (text) {
    try { body = JSON.parse(text); } catch { body = null; }
  }
  if (!response.ok) {
    throw new ApiError(
      response.status,
      (body && body.error) || `HTTP ${response.status}`,
      (body && body.detail) || (body ? '' : text.slice(0, 200)),
    );
  }
  return body;
}

export const api = {
  search: (params, signal) => call('GET', '/api/search', { params, signal }),
  histogram: (params, signal) => call('GET', '/api/histogram', { params, signal }),
  request: (id, signal) => call('GET', `/api/requests/${encodeURIComponent(id)}`, { signal }),
  containers: (signal) => call('GET', '/api/containers', { signal }),
  context: (seq, before, after, signal) =>
    call('GET', `/api/context/${encodeURIComponent(seq)}`, { params: { before, after }, signal }),
  async session() {
    try {
      return await call('GET', '/api/session');
    } catch (e) {
      // A collector without the session route has no login either.
      if (e.status === 404) return { auth_required: false, authenticated: true };
      throw e;
    }
  },
  login: (token) => call('POST', '/api/login', { form: { token } }),
  logout: () => call('POST', '/api/logout'),
};

/** The URL of a streamed download of every record matching `params`. */
export function exportUrl(params, format) {
  return `/api/export${qs({ ...params, format })}`;
}

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const SEEN_MAX = 20000;

/**
 * Opens the live feed with `filters` and keeps it open: when the socket drops
 * it reconnects with backoff, resuming after the highest seq received
 * (`after_seq`), so nothing is skipped or repeated across a reconnect. Before
 * each connect it runs the same filters through /api/search?limit=0: a
 * WebSocket handshake that fails tells the page nothing, the search tells it
 * why (a bad query, or a 401 that sends the user to login).
 *
 * handlers: onRecord(rec), onGap(dropped), onStatus('connecting'|'live'|
 * 'disconnected', detail), onError(ApiError) — a permanent error; the feed stops.
 * start: {tail} for the first connect, or {afterSeq} to resume a search.
 */
export function openLive(filters, start, handlers) {
  let socket = null;
  let closed = false;
  let attempt = 0;
  let timer = 0;
  let maxSeq = start.afterSeq ?? null;
  const seen = new Set();
  const seenOrder = [];

  function remember(seq) {
    seen.add(seq);
    seenOrder.push(seq);
    if (seenOrder.length > SEEN_MAX) seen.delete(seenOrder.shift());
  }

  function status(s, detail) { if (!closed) handlers.onStatus?.(s, detail); }

  async function connect() {
    if (closed) return;
    status('connecting');
    try {
      await api.search({ ...filters, limit: 0 });
    } catch (e) {
      if (closed) return;
      if (e.status === 400 || e.status === 401 || e.status === 403) {
        status('disconnected', e.detail || e.error);
        handlers.onError?.(e);
        closed = true;
        return;
      }
      return retry(e.detail || e.error);
    }
    if (closed) return;
    const params = { ...filters };
    if (maxSeq !== null) params.after_seq = maxSeq; else params.tail = start.tail ?? 0;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/live${qs(params)}`);
    socket = ws;
    let opened = false;
    ws.onopen = () => { opened = true; attempt = 0; status('live'); };
    ws.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch { return; }
      if (msg.type === 'gap') { handlers.onGap?.(msg.dropped); return; }
      if (msg.type === 'error') { status('disconnected', msg.error); return; }
      if (typeof msg.seq !== 'number') return;
      if (seen.has(msg.seq)) return;
      remember(msg.seq);
      if (maxSeq === null || msg.seq > maxSeq) maxSeq = msg.seq;
      handlers.onRecord(msg);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      if (closed) return;
      retry(opened ? `connection closed (${event.code})` : 'could not connect');
    };
  }

  function retry(why) {
    if (closed) return;
    const base = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt += 1;
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    status('disconnected', `${why}; retrying in ${(delay / 1000).toFixed(1)} s`);
    timer = setTimeout(connect, delay);
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket) { const s = socket; socket = null; s.close(); }
    },
    /** Reconnects now (the user clicked "retry"). */
    reconnect() {
      clearTimeout(timer);
      attempt = 0;
      if (!socket) connect();
    },
  };
}
