// The lock screen: the passphrase brings the keys back. Failed unlocks are
// slowed down by the app and, after too many, refused for a while: the
// screen says until when. After an unlock, the vaults screen shows this
// device's previous connection (date, time, address), as the CNIL asks.
import { h, replace, field, formatTime } from './dom.js';
import { errorText } from './i18n.js';

// readState turns /api/state's answer (SPEC §14.2) into the interface's
// words: phase is 'revoked' (the app erased this device's data: SPEC
// §15.3), 'unenrolled' (no device yet: first run), 'locked' or 'unlocked'.
export function readState(s) {
  s = s || {};
  let phase = 'unlocked';
  if (s.revoked) phase = 'revoked';
  else if (s.device === false) phase = 'unenrolled';
  else if (s.locked) phase = 'locked';
  // the state's identity has client.Identity's Go field names; the API's
  // other answers are in camelCase: read either
  const id = s.identity || {};
  return {
    raw: s,
    phase,
    userId: id.UserID || id.userId || '',
    organisation: id.OrganisationName || id.organisationName || '',
    // unlocks are refused for this long (wrong passphrases before)
    unlockWait: s.unlock_wait_seconds || 0,
    lockedOut: !!s.locked_out,
    lastConnection: s.last_connection || null,
    lockAfter: s.lock_after_seconds || 0,
    revoked: s.revoked || null,
  };
}

// revokedScreen is the whole page once the app erased this device's data
// (its verified log revokes it): who revoked it and when, the folders
// cleaned, the files kept aside and where. Nothing else can be done here.
export function revokedScreen(app) {
  const r = app.state.revoked || {};
  const list = (items) => h('ul', { class: 'paths' }, (items || []).map((p) => h('li', null, h('code', null, p))));
  const kept = r.kept || [];
  replace(app.main, h('section', { class: 'card narrow', role: 'alert', 'aria-labelledby': 'revoked-title', id: 'revoked' },
    h('h1', { id: 'revoked-title' }, app.t('revoked.title')),
    h('p', null, app.t(r.user ? 'revoked.introUser' : 'revoked.intro', { who: r.by || app.t('common.unknown'), time: formatTime(r.time, app.lang) })),
    (r.folders || []).length ? [h('h2', null, app.t('revoked.folders')), list(r.folders)] : null,
    h('p', null, app.t('revoked.removed', { count: r.removed || 0 })),
    kept.length
      ? [h('p', null, app.t('revoked.kept')), list(r.keptDirs), h('h2', null, app.t('revoked.keptFiles')), list(kept)]
      : h('p', null, app.t('revoked.noneKept')),
    r.error ? h('p', { class: 'error' }, app.t('revoked.error', { error: r.error })) : null,
    h('p', null, app.t('revoked.next'))));
}

// realTime tells a recorded time from Go's zero time ("none before").
function realTime(t) {
  const d = t ? new Date(t) : null;
  return d && !Number.isNaN(d.getTime()) && d.getFullYear() > 1970;
}

export function lastConnectionText(app, c) {
  if (!c) return '';
  if (!realTime(c.time)) return app.t('lock.firstConnection');
  return app.t('lock.lastConnection', { time: formatTime(c.time, app.lang), address: c.address || app.t('common.unknown') });
}

// waitText says when the next try is heard, after wrong passphrases.
function waitText(app, seconds, lockedOut) {
  const until = new Date(Date.now() + seconds * 1000);
  return lockedOut ? app.t('lock.lockedOut', { time: formatTime(until, app.lang) }) : app.t('lock.wait', { seconds });
}

export function lockScreen(app) {
  const s = app.state;
  const pass = h('input', { type: 'password', name: 'passphrase', autocomplete: 'current-password', required: true });
  const msg = h('p', { class: 'error', role: 'alert', id: 'unlock-error' });
  const submit = h('button', { type: 'submit', class: 'primary' }, app.t('lock.unlock'));
  if (s.unlockWait) msg.textContent = waitText(app, s.unlockWait, s.lockedOut);
  const form = h('form', {
    class: 'card narrow',
    'aria-labelledby': 'lock-title',
    onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      msg.textContent = app.t('lock.unlocking');
      try {
        const r = await app.api.post('/api/unlock', { passphrase: pass.value });
        pass.value = '';
        msg.textContent = '';
        app.showLastConnection = true;
        app.state = readState(r);
        app.render();
      } catch (err) {
        if (err.code === 'too_soon' || err.code === 'locked_out') msg.textContent = waitText(app, err.retryAfter || 1, err.code === 'locked_out');
        else msg.textContent = errorText(err);
        pass.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h1', { id: 'lock-title' }, app.t('lock.title')),
  h('p', null, s.organisation ? app.t('lock.intro', { organisation: s.organisation }) : app.t('lock.introAnon')),
  field(app.t('lock.passphrase'), pass),
  msg,
  h('div', { class: 'actions' }, submit));
  replace(app.main, form);
  pass.focus();
}
