// el.js — the one way this UI builds DOM.
//
// `el(tag, attrs, ...children)` creates an element; `svg(...)` the same in the
// SVG namespace. Text children always become text nodes, so log content can
// never be parsed as markup: nothing in this UI uses innerHTML or any other
// HTML-parsing sink. Attributes:
//   class        → className (a string; falsy parts of an array are skipped)
//   dataset      → an object copied into element.dataset
//   style        → an object copied into element.style (CSSOM, allowed by our
//                  CSP; a style *attribute* string would be blocked)
//   onclick, …   → addEventListener for functions
//   known DOM properties (value, checked, hidden, …) → set as properties
//   anything else → setAttribute; null/undefined/false are skipped.

const SVG_NS = 'http://www.w3.org/2000/svg';
const FORBIDDEN = new Set(['innerHTML', 'outerHTML', 'srcdoc']);
const PROPS = new Set([
  'value', 'checked', 'disabled', 'hidden', 'selected', 'type', 'id', 'title',
  'href', 'tabIndex', 'htmlFor', 'name', 'placeholder', 'autocomplete', 'spellcheck',
  'textContent', 'download', 'min', 'max', 'step', 'required', 'open', 'colSpan',
]);

function build(node, attrs, children, isSvg) {
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (FORBIDDEN.has(key)) throw new Error(`el: ${key} is not allowed`);
      if (key === 'class') {
        const cls = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
        if (isSvg) node.setAttribute('class', cls); else node.className = cls;
      } else if (key === 'dataset') {
        for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) node.dataset[k] = String(v);
      } else if (key === 'style') {
        if (typeof value !== 'object') throw new Error('el: style must be an object');
        for (const [k, v] of Object.entries(value)) {
          if (k.startsWith('--')) node.style.setProperty(k, v); else node.style[k] = v;
        }
      } else if (key.startsWith('on') && typeof value === 'function') {
        node.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (!isSvg && PROPS.has(key)) {
        node[key] = value;
      } else {
        node.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(node, children);
  return node;
}

/** Appends children: strings/numbers as text nodes, nodes as is, arrays flattened. */
export function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
  return node;
}

export function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children, false);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children, true);
}

/** Replaces every child of `node` with `children`. */
export function clear(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}
