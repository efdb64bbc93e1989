// Building the page without innerHTML: every text, file name and person's
// name goes in through textContent (Node.append of a string makes a text
// node), so that a vault entry named <img src=x onerror=…> shows as text.

// h makes an element: h('button', {type: 'button', onclick: f}, 'Save').
// Attributes whose name starts with "on" become listeners; a false or null
// value leaves the attribute out; children are nodes, strings or arrays.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, children);
  return el;
}

// add appends children (nodes, strings, numbers, nested arrays) to el.
export function add(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// replace empties el and puts children in.
export function replace(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

// field is a labelled form control: the label's for= names the input.
let fieldSeq = 0;
export function field(label, input, hint) {
  const id = input.id || `f${++fieldSeq}`;
  input.id = id;
  const parts = [h('label', { for: id }, label), input];
  if (hint) {
    const hid = `${id}-hint`;
    input.setAttribute('aria-describedby', hid);
    parts.push(h('p', { class: 'hint', id: hid }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

// button is a real <button type="button">.
export function button(label, onclick, attrs = {}) {
  return h('button', { type: 'button', ...attrs, onclick }, label);
}

// formatSize prints a byte count the way people read it.
export function formatSize(n, lang) {
  if (n === undefined || n === null) return '';
  const units = lang === 'fr' ? ['o', 'ko', 'Mo', 'Go', 'To'] : ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  const num = new Intl.NumberFormat(lang, { maximumFractionDigits: i === 0 ? 0 : 1 }).format(v);
  return `${num} ${units[i]}`;
}

// formatTime prints a date and time in the person's language.
export function formatTime(t, lang) {
  if (!t) return '';
  const d = new Date(t);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 1971) return '';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

// formatDate prints a date without the time.
export function formatDate(t, lang) {
  if (!t) return '';
  const d = new Date(t);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 1971) return '';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium' }).format(d);
}

// confirmDialog asks a yes/no question in a modal <dialog> (keyboard and
// screen-reader friendly, unlike window.confirm, and in the page's
// language); it resolves to true when the person confirms.
export function confirmDialog(message, okLabel, cancelLabel, detail) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', value: 'ok', class: 'primary' }, okLabel);
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-msg' },
      h('form', { method: 'dialog' },
        h('p', { id: 'confirm-msg' }, message),
        detail ? h('p', { class: 'hint' }, detail) : null,
        h('div', { class: 'actions' },
          h('button', { type: 'submit', value: 'cancel' }, cancelLabel), ok)));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'ok'); });
    document.body.append(dlg);
    dlg.showModal();
    ok.focus();
  });
}
