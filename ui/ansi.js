// ansi.js — terminal escape sequences in log lines, rendered safely.
//
// Containers write ANSI colour codes (SGR); the collector keeps them in the
// record so the UI can show the colours. This module turns a message into
// runs of text with styles and builds spans from them. Only SGR (colours and
// bold/dim/italic/underline/inverse/strike) is honoured; every other escape —
// OSC (titles, OSC-8 hyperlinks: the visible text stays, the link is dropped),
// CSI cursor moves and erases, DCS/APC/PM/SOS strings, two-byte escapes — is
// removed and never acted on. Text only ever becomes text nodes.
//
// The 16 basic colours are classes (`ansi-fg-1`, `ansi-bg-4`), so each theme
// can tune them for contrast; 256-colour and truecolour values are set with
// element.style (CSSOM, allowed by the CSP).

const ESC = '\x1b';
// Any C0 control but tab and newline, plus DEL and the C1 controls (U+0080–U+009F).
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/** True when `text` holds anything this module would change. */
export function hasEscapes(text) {
  return CONTROLS.test(text);
}

function color256(n) {
  if (n < 16) return { index: n };
  if (n < 232) {
    const levels = [0, 95, 135, 175, 215, 255];
    const i = n - 16;
    return { rgb: [levels[Math.floor(i / 36)], levels[Math.floor(i / 6) % 6], levels[i % 6]] };
  }
  const v = 8 + (n - 232) * 10;
  return { rgb: [v, v, v] };
}

// Reads an extended colour (38/48/58) from params at i; returns [colour, next i].
function extended(params, i) {
  const p = params[i];
  if (p.sub) {
    // Colon form: 38:5:n or 38:2:[colorspace:]r:g:b
    const s = p.sub;
    if (s[0] === 5 && s.length >= 2) return [color256(clamp(s[1])), i + 1];
    if (s[0] === 2) {
      const rgb = s.length >= 5 ? s.slice(-3) : s.slice(1, 4);
      if (rgb.length === 3) return [{ rgb: rgb.map(clamp) }, i + 1];
    }
    return [null, i + 1];
  }
  const mode = params[i + 1]?.n;
  if (mode === 5 && params[i + 2]) return [color256(clamp(params[i + 2].n)), i + 3];
  if (mode === 2 && params[i + 4]) {
    return [{ rgb: [params[i + 2].n, params[i + 3].n, params[i + 4].n].map(clamp) }, i + 5];
  }
  return [null, params.length];
}

function clamp(n) { return Math.max(0, Math.min(255, n | 0)); }

function applySgr(style, raw) {
  const params = (raw === '' ? '0' : raw).split(';').map((part) => {
    if (part.includes(':')) {
      const sub = part.split(':').map((x) => (x === '' ? 0 : parseInt(x, 10) || 0));
      return { n: sub[0], sub: sub.slice(1) };
    }
    return { n: part === '' ? 0 : parseInt(part, 10) || 0 };
  });
  const s = { ...style };
  for (let i = 0; i < params.length;) {
    const n = params[i].n;
    if (n === 38 || n === 48) {
      const [c, next] = extended(params, i);
      if (c) s[n === 38 ? 'fg' : 'bg'] = c;
      i = next;
      continue;
    }
    if (n === 58) { i = extended(params, i)[1]; continue; } // underline colour: ignored
    i += 1;
    if (n === 0) { for (const k of Object.keys(s)) delete s[k]; }
    else if (n === 1) s.bold = true;
    else if (n === 2) s.dim = true;
    else if (n === 3) s.italic = true;
    else if (n === 4 || n === 21) s.underline = !(params[i - 1].sub && params[i - 1].sub[0] === 0);
    else if (n === 7) s.inverse = true;
    else if (n === 8) s.hidden = true;
    else if (n === 9) s.strike = true;
    else if (n === 22) { delete s.bold; delete s.dim; }
    else if (n === 23) delete s.italic;
    else if (n === 24) delete s.underline;
    else if (n === 27) delete s.inverse;
    else if (n === 28) delete s.hidden;
    else if (n === 29) delete s.strike;
    else if (n >= 30 && n <= 37) s.fg = { index: n - 30 };
    else if (n === 39) delete s.fg;
    else if (n >= 40 && n <= 47) s.bg = { index: n - 40 };
    else if (n === 49) delete s.bg;
    else if (n >= 90 && n <= 97) s.fg = { index: n - 90 + 8 };
    else if (n >= 100 && n <= 107) s.bg = { index: n - 100 + 8 };
  }
  return s;
}

/**
 * Splits `text` into runs `{text, style}`; escapes are consumed, SGR updates
 * the style of the following text. `style` is `{}` for plain text.
 */
export function parse(text) {
  const runs = [];
  let style = {};
  let buf = '';
  const flush = () => {
    if (buf) { runs.push({ text: buf, style }); buf = ''; }
  };
  const n = text.length;
  let i = 0;
  while (i < n) {
    const ch = text[i];
    const code = ch.charCodeAt(0);
    const isControl = code < 0x20 || (code >= 0x7f && code <= 0x9f);
    if (!isControl || ch === '\t' || ch === '\n') {
      // Fast path: copy a stretch of ordinary text at once.
      let j = i + 1;
      while (j < n) {
        const c = text.charCodeAt(j);
        if ((c < 0x20 && c !== 9 && c !== 10) || (c >= 0x7f && c <= 0x9f)) break;
        j += 1;
      }
      buf += text.slice(i, j);
      i = j;
      continue;
    }
    let kind = null; // 'csi' | 'osc' | 'str'
    let start = i + 1;
    if (ch === ESC) {
      const next = text[i + 1];
      if (next === '[') { kind = 'csi'; start = i + 2; }
      else if (next === ']') { kind = 'osc'; start = i + 2; }
      else if (next === 'P' || next === 'X' || next === '^' || next === '_') { kind = 'str'; start = i + 2; }
      else {
        // ESC, intermediates (0x20–0x2F), one final byte.
        let j = i + 1;
        while (j < n && text.charCodeAt(j) >= 0x20 && text.charCodeAt(j) <= 0x2f) j += 1;
        i = Math.min(n, j + 1);
        continue;
      }
    } else if (code === 0x9b) kind = 'csi';
    else if (code === 0x9d) kind = 'osc';
    else if (code === 0x90 || code === 0x98 || code === 0x9e || code === 0x9f) kind = 'str';
    else { i += 1; continue; } // any other control character: dropped

    if (kind === 'csi') {
      // Parameters 0x30–0x3F, intermediates 0x20–0x2F, final 0x40–0x7E.
      let j = start;
      while (j < n && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x3f) j += 1;
      const params = text.slice(start, j);
      while (j < n && text.charCodeAt(j) >= 0x20 && text.charCodeAt(j) <= 0x2f) j += 1;
      const final = text[j];
      i = j + 1;
      if (final === 'm' && /^[0-9;:]*$/.test(params)) {
        flush();
        style = applySgr(style, params);
      }
      continue;
    }
    // OSC and the other strings run to BEL (OSC only) or ST (ESC \ or U+009C).
    let j = start;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 0x9c || (c === 0x07 && kind === 'osc')) { j += 1; break; }
      if (c === 0x1b && text[j + 1] === '\\') { j += 2; break; }
      if (c === 0x1b) break; // a new escape starts: the string was unterminated
      j += 1;
    }
    i = j;
  }
  flush();
  return runs;
}

/** The visible text of `text`, every escape removed. */
export function strip(text) {
  if (!hasEscapes(text)) return text;
  return parse(text).map((r) => r.text).join('');
}

function colourValue(c) {
  return `rgb(${c.rgb[0]}, ${c.rgb[1]}, ${c.rgb[2]})`;
}

function span(run) {
  const s = run.style;
  const node = document.createElement('span');
  const cls = [];
  let fg = s.fg;
  let bg = s.bg;
  if (s.inverse) {
    [fg, bg] = [bg, fg];
    if (!fg) cls.push('ansi-inv-fg');
    if (!bg) cls.push('ansi-inv-bg');
  }
  if (fg) {
    if (fg.index !== undefined) cls.push(`ansi-fg-${fg.index}`);
    else node.style.color = colourValue(fg);
  }
  if (bg) {
    if (bg.index !== undefined) cls.push(`ansi-bg-${bg.index}`);
    else node.style.backgroundColor = colourValue(bg);
  }
  if (s.bold) cls.push('ansi-bold');
  if (s.dim) cls.push('ansi-dim');
  if (s.italic) cls.push('ansi-italic');
  if (s.underline) cls.push('ansi-underline');
  if (s.strike) cls.push('ansi-strike');
  if (s.hidden) cls.push('ansi-hidden');
  node.className = cls.join(' ');
  node.textContent = run.text;
  return node;
}

/**
 * Renders `text` into `parent`: plain runs as text nodes, styled runs as
 * spans. With `limit`, stops after that many visible characters and returns
 * true when something was left out.
 */
export function render(parent, text, limit = Infinity) {
  if (!hasEscapes(text)) {
    if (text.length > limit) {
      parent.appendChild(document.createTextNode(text.slice(0, limit)));
      return true;
    }
    parent.appendChild(document.createTextNode(text));
    return false;
  }
  let left = limit;
  for (const run of parse(text)) {
    if (left <= 0) return true;
    const part = run.text.length > left ? { text: run.text.slice(0, left), style: run.style } : run;
    left -= part.text.length;
    parent.appendChild(Object.keys(part.style).length ? span(part) : document.createTextNode(part.text));
    if (part !== run) return true;
  }
  return false;
}
