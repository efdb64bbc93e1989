// Texts in French and English, from i18n/en.json and i18n/fr.json. The
// language is the one the person chose (remembered in localStorage), else
// the first of the browser's languages that we have, else English.

export const languages = ['en', 'fr'];
const storageKey = 'coffre.lang';
let texts = {};
let fallback = {};
export let lang = 'en';

function pick() {
  try {
    const saved = localStorage.getItem(storageKey);
    if (languages.includes(saved)) return saved;
  } catch { /* storage disabled: use the browser's languages */ }
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (languages.includes(base)) return base;
  }
  return 'en';
}

async function load(l) {
  const r = await fetch(`i18n/${l}.json`, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`i18n/${l}.json: ${r.status}`);
  return r.json();
}

// init loads the texts of the chosen language (and English, the fallback
// for a key a translation lacks).
export async function init() {
  lang = pick();
  fallback = await load('en');
  texts = lang === 'en' ? fallback : await load(lang);
  document.documentElement.lang = lang;
}

// setLang switches language and remembers the choice.
export async function setLang(l) {
  if (!languages.includes(l)) return;
  try { localStorage.setItem(storageKey, l); } catch { /* not remembered */ }
  texts = l === 'en' ? fallback : await load(l);
  lang = l;
  document.documentElement.lang = l;
}

// t returns the text of key with {name} placeholders filled from params;
// a key nobody wrote comes back as itself, which a test notices.
export function t(key, params) {
  let s = texts[key] ?? fallback[key] ?? key;
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? String(params[k]) : m));
  }
  return s;
}

// has tells whether a text exists for key.
export function has(key) {
  return key in texts || key in fallback;
}

// errorText is the sentence to show for a failed call: the translation of
// the API's error code when there is one, else the API's English message.
export function errorText(err) {
  if (err && err.code && has(`error.${err.code}`)) return t(`error.${err.code}`, err.params);
  if (err && err.message) return err.message;
  return t('error.internal');
}
