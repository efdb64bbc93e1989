// The lock screen: the passphrase brings the keys back. Failed unlocks are
// slowed down by the app and, after too many, refused for a while: the
// screen says until when. After an unlock, the vaults screen shows this
// device's previous connection (date, time, address), as the CNIL asks.
import { h, replace, field, formatTime } from './dom.js';
import { errorText } from './i18n.js';

// readState turns /api/state's answer into the interface's words:
// phase is 'unenrolled' (no device yet: first run), 'locked' or 'unlocked'.
export function readState(s) {
  s = s || {};
  let phase = s.phase || s.state;
  if (!phase) {
    if (s.enrolled === false || s.device === false) phase = 'unenrolled';
    else phase = s.locked ? 'locked' : 'unlocked';
  }
  const me = s.identity || s.me || s.user || {};
  return {
    raw: s,
    phase,
    name: me.name || s.name || '',
    email: me.email || s.email || '',
    admin: me.profile === 'admin' || s.profile === 'admin' || s.admin === true,
    organisation: s.organisation || s.organization || '',
    lockedOutUntil: s.locked_out_until || s.lockout_until || null,
    lastConnection: s.last_connection || s.previous_connection || null,
    lockAfter: s.lock_after || null,
  };
}

export function lastConnectionText(app, c) {
  if (!c || !c.time) return app.t('lock.firstConnection');
  return app.t('lock.lastConnection', { time: formatTime(c.time, app.lang), address: c.address || app.t('common.unknown') });
}

export function lockScreen(app) {
  const s = app.state;
  const pass = h('input', { type: 'password', name: 'passphrase', autocomplete: 'current-password', required: true });
  const msg = h('p', { class: 'error', role: 'alert', id: 'unlock-error' });
  const submit = h('button', { type: 'submit', class: 'primary' }, app.t('lock.unlock'));
  const lockedOut = (until) => app.t('lock.lockedOut', { time: formatTime(until, app.lang) });
  if (s.lockedOutUntil && new Date(s.lockedOutUntil) > new Date()) msg.textContent = lockedOut(s.lockedOutUntil);
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
        app.lastConnection = (r && (r.last_connection || r.previous_connection)) || null;
        app.showLastConnection = true;
        await app.refreshState();
      } catch (err) {
        const until = err.params && (err.params.locked_out_until || err.params.until || err.params.retry_at);
        msg.textContent = until && err.code !== 'wrong_passphrase' ? `${errorText(err)} ${lockedOut(until)}` : errorText(err);
        pass.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h1', { id: 'lock-title' }, app.t('lock.title')),
  h('p', null, s.name ? app.t('lock.intro', { name: s.name }) : app.t('lock.introAnon')),
  field(app.t('lock.passphrase'), pass),
  msg,
  h('div', { class: 'actions' }, submit));
  replace(app.main, form);
  pass.focus();
}
