// coffre's web interface: the shell (header, navigation, language, lock
// button), the router (the address's #fragment names the screen) and the
// watch on the app's state (locked by idle time elsewhere → lock screen).
import * as i18n from './i18n.js';
import { t, errorText } from './i18n.js';
import * as api from './api.js';
import { h, replace, button } from './dom.js';
import { lockScreen, readState, revokedScreen } from './lock.js';
import { welcomeScreen } from './welcome.js';
import { vaultsScreen } from './vaults.js';
import { filesScreen } from './files.js';
import { sharingScreen } from './sharing.js';
import { peopleScreen } from './people.js';
import { syncScreen } from './sync.js';
import { devicesScreen } from './devices.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
const statusEl = document.getElementById('status');
const alertEl = document.getElementById('alert');

// app is what every screen gets: the texts, the API, and ways to report.
const app = {
  state: null, // the app's state, readState's shape
  main,
  get lang() { return i18n.lang; },
  t,
  api,
  // notify says that something worked (a polite live region).
  notify(msg) {
    alertEl.hidden = true;
    statusEl.textContent = msg;
    clearTimeout(app.notifyTimer);
    app.notifyTimer = setTimeout(() => { statusEl.textContent = ''; }, 8000);
  },
  // fail shows one sentence in the person's language (an alert).
  fail(err) {
    if (err && err.name === 'AbortError') return;
    if (err && (err.code === 'locked' || err.code === 'device_revoked')) return; // the lock or revoked screen says it
    replace(alertEl, errorText(err), ' ', button(t('common.dismiss'), () => { alertEl.hidden = true; }, { class: 'link' }));
    alertEl.hidden = false;
    if (!(err instanceof api.ApiError)) console.error(err);
  },
  clearAlert() { alertEl.hidden = true; },
  navigate(hash) {
    if (window.location.hash === hash) render();
    else window.location.hash = hash;
  },
  // refreshState reads /api/state and shows the lock or first-run screen
  // when the app is in that state.
  async refreshState() {
    const s = readState(await api.get('/api/state'));
    const was = app.state;
    app.state = s;
    if (!was || was.phase !== s.phase) render();
    return s;
  },
  // me is the person using this device ({name, email, profile}), from the
  // directory's "yourself" entry; null while locked or unknown (an
  // outsider has no directory).
  me: null,
  async loadMe() {
    try {
      const r = await api.poll('/api/users');
      const list = Array.isArray(r) ? r : (r && r.users) || [];
      app.me = list.find((u) => u.me) || null;
    } catch {
      app.me = null;
    }
  },
  render: () => render(),
};

// route parses the fragment: #/vault/ID/files?path=/a/b → {name, id, params}.
function route() {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const [pathPart, query = ''] = raw.split('?');
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

function shell(active) {
  const s = app.state || {};
  const link = (hash, key) => h('a', { href: hash, 'aria-current': active === key ? 'page' : null }, t(`nav.${key}`));
  const langSelect = h('select', { id: 'lang', onchange: async (e) => { await i18n.setLang(e.target.value); render(); } },
    i18n.languages.map((l) => h('option', { value: l, selected: l === i18n.lang }, t(`lang.${l}`))));
  replace(top,
    h('a', { class: 'brand', href: '#/vaults' }, 'coffre'),
    h('nav', { 'aria-label': t('nav.label') },
      link('#/vaults', 'vaults'),
      app.me && app.me.profile !== 'outsider' ? link('#/people', 'people') : null,
      link('#/devices', 'devices'),
      link('#/sync', 'sync')),
    h('div', { class: 'who' },
      h('span', { class: 'me' }, [app.me && app.me.name, s.organisation].filter(Boolean).join(' · ')),
      h('label', { for: 'lang', class: 'sr-only' }, t('lang.choose')), langSelect,
      button(t('lock.lockNow'), async () => {
        try { await api.post('/api/lock'); } catch (e) { app.fail(e); }
        await app.refreshState().catch(app.fail);
      }, { id: 'lock-now' })));
  top.hidden = false;
}

let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  const s = app.state;
  if (!s) return;
  document.title = 'coffre';
  if (s.phase === 'revoked') {
    top.hidden = true;
    app.me = null;
    return revokedScreen(app);
  }
  if (s.phase === 'unenrolled') {
    top.hidden = true;
    return welcomeScreen(app);
  }
  if (s.phase === 'locked') {
    top.hidden = true;
    app.me = null;
    return lockScreen(app);
  }
  if (!app.me) await app.loadMe();
  if (seq !== renderSeq) return;
  const { parts, params } = route();
  const [name, id, sub] = parts;
  let active = 'vaults';
  if (name === 'people') active = 'people';
  if (name === 'sync') active = 'sync';
  if (name === 'devices') active = 'devices';
  shell(active);
  app.clearAlert();
  try {
    if (name === 'vault' && id) {
      if (sub === 'sharing') await sharingScreen(app, id);
      else await filesScreen(app, id, sub || 'files', params);
    } else if (name === 'people') {
      await peopleScreen(app, params);
    } else if (name === 'devices') {
      await devicesScreen(app, params);
    } else if (name === 'sync') {
      await syncScreen(app);
    } else {
      await vaultsScreen(app, params);
    }
  } catch (e) {
    if (seq === renderSeq) app.fail(e);
  }
  if (seq === renderSeq && app.focusMain) { main.focus(); app.focusMain = false; }
}

// The app may lock itself (idle time, `coffre lock`): a locked answer from
// any call, or the state seen every few seconds, shows the lock screen.
// A device_revoked answer shows the revoked screen the same way.
api.onLocked(() => {
  if (app.state && app.state.phase !== 'locked' && app.state.phase !== 'revoked') app.refreshState().catch(() => {});
});

async function start() {
  await i18n.init();
  try {
    app.session = await api.session();
    app.state = readState(await api.get('/api/state'));
  } catch (e) {
    top.hidden = true;
    replace(main, h('section', { class: 'card narrow' },
      h('h1', null, t('login.title')),
      h('p', null, e.status === 401 || e.status === 403 ? t('login.needToken') : errorText(e))));
    return;
  }
  window.addEventListener('hashchange', () => { app.focusMain = true; render(); });
  render();
  setInterval(() => { app.refreshState().catch(() => {}); }, 3000);
}

start();
