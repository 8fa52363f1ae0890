// format.js — small, pure formatting helpers shared by every page.
//
// Timestamps arrive as RFC 3339 strings with nanoseconds; a JS Date keeps
// milliseconds only, so `tsMillis` parses them itself (the full string stays
// available for tooltips). Numbers use one fixed locale so that "1,234 lines"
// reads the same for every user and every test.

const NUM = new Intl.NumberFormat('en-US');
const TS_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$/i;

/** Milliseconds since the epoch of an RFC 3339 string (NaN when malformed). */
export function tsMillis(ts) {
  if (typeof ts !== 'string') return NaN;
  const m = TS_RE.exec(ts);
  if (!m) return Date.parse(ts);
  const frac = (m[2] || '').slice(0, 3).padEnd(3, '0');
  return Date.parse(`${m[1]}${m[3]}`) + Number(frac);
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** `HH:MM:SS.mmm` in local time. */
export function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `MM-DD` in local time. */
export function monthDay(ms) {
  const d = new Date(ms);
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function sameLocalDay(a, b) {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
}

/** A local date and time for labels: `2026-12-03 07:56:57`. */
export function dateTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${monthDay(ms)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The value of a `datetime-local` input for `ms`, and back. */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${monthDay(ms)}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function fromLocalInput(value) {
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}

export function num(n) { return NUM.format(n); }

export function plural(n, one, many = `${one}s`) {
  return `${num(n)} ${n === 1 ? one : many}`;
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago". */
export function ago(ms, now = Date.now()) {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A duration in ms as "850 ms", "1.25 s", "3 min 4 s". */
export function duration(ms) {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60000);
  if (m < 60) return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// Hues far enough apart to tell apart at a glance (HSL's blues and purples
// crowd together, so the spacing is uneven on purpose).
const HUES = [4, 28, 48, 88, 130, 165, 190, 212, 235, 265, 290, 318];

/** A stable hue for a container name: the same name, the same colour. */
export function hue(name) {
  let h = 2166136261;
  for (let i = 0; i < name.length; i += 1) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  // Final avalanche (murmur3's fmix32) so that similar names spread apart.
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return HUES[(h >>> 0) % HUES.length];
}

export const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const RANK = { fatal: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 };
/** The level's CSS name; unknown levels share one neutral style. */
export function levelClass(level) {
  if (!level) return 'level-none';
  return level in RANK ? `level-${level}` : 'level-other';
}
