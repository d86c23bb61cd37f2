// Tiny element builders: the dashboard builds its DOM in JS because the CSP forbids inline
// script and style, and a template language would need eval.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'testid') el.setAttribute('data-testid', value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'on') for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'hidden') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** HTML element: h('button', {class: 'x', on: {click}}, 'label'). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  apply(el, props);
  append(el, children);
  return el;
}

/** SVG element; attributes are set verbatim (viewBox keeps its case). */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, props);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replace an element's children. */
export function mount(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

let idCounter = 0;
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field; the label is a real <label for> so screen readers and tests find it. */
export function field(label, input, hint) {
  if (!input.id) input.id = uid('f');
  const hintEl = hint ? h('p', { class: 'hint', id: `${input.id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
}

// Buttons that change the home are disabled while the hub connection is down, so a click never
// silently goes nowhere. app.js calls syncActionButtons() whenever the connection changes.
let connectionUp = true;

export function actionButton(props, ...children) {
  const btn = h('button', { type: 'button', ...props, class: ['btn', props && props.class] }, ...children);
  btn.dataset.liveAction = '';
  btn.disabled = !connectionUp;
  return btn;
}

export function setConnectionUp(up) {
  connectionUp = up;
  syncActionButtons();
}

export function isConnectionUp() {
  return connectionUp;
}

export function syncActionButtons(root = document) {
  for (const btn of root.querySelectorAll('[data-live-action]')) {
    btn.disabled = !connectionUp || btn.dataset.busy === '1';
  }
}

/** Run an async action with the button marked busy, re-enabled afterwards per connection. */
export async function busy(btn, fn) {
  btn.dataset.busy = '1';
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    delete btn.dataset.busy;
    btn.removeAttribute('aria-busy');
    btn.disabled = btn.hasAttribute('data-live-action') ? !connectionUp : false;
  }
}
