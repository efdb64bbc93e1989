// People, for administrators: the members and their profiles, change a
// profile, revoke, invite someone (the link to send, then the code
// exchange on screen), and the audit trail with its verification in words.
import { t as tr } from './i18n.js';
import { h, replace, add, field, button, formatTime, confirmDialog } from './dom.js';
import { enc } from './api.js';
import { runExchange } from './enrol.js';

export const profiles = ['standard', 'admin', 'outsider'];

const urls = {
  users: () => '/api/users',
  user: (u) => `/api/users/${enc(u)}`,
  revoke: (u) => `/api/users/${enc(u)}/revoke`,
  invitations: () => '/api/invitations',
  greetings: () => '/api/greetings',
  greeting: (id) => `/api/greetings/${enc(id)}`,
  greetingAnswer: (id) => `/api/greetings/${enc(id)}/answer`,
  audit: () => '/api/audit',
  verify: () => '/api/audit/verify',
};

function readUser(u) {
  return {
    id: u.id,
    name: u.unknown ? tr('people.unknown', { id: u.id }) : u.name ?? '',
    email: u.unknown ? '—' : u.email ?? '',
    profile: u.profile || '',
    revoked: u.revoked ? (u.revokedOn || true) : null,
    devices: (u.devices || []).length,
    yourself: !!u.me,
  };
}

export async function peopleScreen(app) {
  const t = app.t;
  const users = ((await app.api.get(urls.users())) || []).map(readUser);
  const admin = !!(app.me && app.me.profile === 'admin');

  const rows = users.map((u) => {
    const profileCell = h('td', null, t(`profile.${u.profile}`));
    if (admin && !u.revoked && !u.yourself) {
      const sel = h('select', { 'aria-label': t('people.profileOf', { name: u.name }) },
        profiles.map((p) => h('option', { value: p, selected: p === u.profile }, t(`profile.${p}`))));
      sel.addEventListener('change', async () => {
        try {
          await app.api.patch(urls.user(u.id), { profile: sel.value });
          app.notify(t('people.profileChanged', { name: u.name, profile: t(`profile.${sel.value}`) }));
          app.render();
        } catch (err) { sel.value = u.profile; app.fail(err); }
      });
      replace(profileCell, sel);
    }
    return h('tr', { 'data-user': u.email },
      h('td', null, u.name, u.yourself ? h('span', { class: 'muted' }, ` (${t('sharing.you')})`) : null),
      h('td', null, u.email),
      profileCell,
      h('td', { class: 'num' }, u.yourself || admin
        ? h('a', { href: u.yourself ? '#/devices' : `#/devices?user=${encodeURIComponent(u.id)}`, 'aria-label': tr('people.devicesOf', { name: u.name }) }, String(u.devices))
        : String(u.devices)),
      h('td', null, u.revoked ? (u.revoked === true ? t('people.revokedState') : t('people.revokedOn', { time: formatTime(u.revoked, app.lang) })) : t('people.active')),
      h('td', { class: 'row-actions' }, admin && !u.revoked && !u.yourself ? button(t('people.revoke'), async () => {
        if (!await confirmDialog(t('people.confirmRevoke', { name: u.name }), t('people.revoke'), t('common.cancel'), t('people.revokeDetail'))) return;
        try {
          await app.api.post(urls.revoke(u.id));
          app.notify(t('people.revoked', { name: u.name }));
          app.render();
        } catch (err) { app.fail(err); }
      }, { class: 'danger', 'aria-label': t('people.revokeOf', { name: u.name }) }) : null));
  });

  replace(app.main,
    h('h1', null, t('people.title')),
    h('table', { class: 'list', id: 'people' },
      h('caption', { class: 'sr-only' }, t('people.title')),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('people.name')),
        h('th', { scope: 'col' }, t('people.email')),
        h('th', { scope: 'col' }, t('people.profile')),
        h('th', { scope: 'col', class: 'num' }, t('people.devices')),
        h('th', { scope: 'col' }, t('people.state')),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
      h('tbody', null, rows)));
  if (admin) add(app.main, inviteSection(app));
  add(app.main, deviceSection(app));
  await auditSection(app);
}

function inviteSection(app) {
  const t = app.t;
  const email = h('input', { type: 'email', required: true, autocomplete: 'off' });
  const profile = h('select', { id: 'invite-profile' }, profiles.map((p) => h('option', { value: p }, t(`profile.${p}`))));
  const out = h('div', { id: 'invitation' });
  const form = h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const inv = await app.api.post(urls.invitations(), { kind: 'user', email: email.value.trim(), profile: profile.value });
        showInvitation(app, out, inv, email.value.trim(), 'user');
        form.hidden = true;
      } catch (err) { app.fail(err); }
    },
  },
  field(t('people.inviteEmail'), email),
  h('div', { class: 'field' }, h('label', { for: 'invite-profile' }, t('people.profile')), profile),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('people.invite'))));
  return h('section', { class: 'card', 'aria-labelledby': 'invite-title' },
    h('h2', { id: 'invite-title' }, t('people.inviteTitle')), form, out);
}

// showInvitation shows the link to send, then runs the greeter's side of
// the code exchange once the person says the newcomer has opened it.
export function showInvitation(app, box, inv, who, kind) {
  const t = app.t;
  const id = inv.invitation && inv.invitation.id;
  const link = inv.link || '';
  const linkBox = h('p', { class: 'link-box', id: 'invitation-link' }, link);
  const copy = button(t('people.copyLink'), async () => {
    try { await navigator.clipboard.writeText(link); app.notify(t('people.copied')); } catch { app.notify(t('people.copyByHand')); }
  });
  const exchange = h('div', { id: 'greeting' });
  const start = button(t('people.startGreeting'), async () => {
    start.disabled = true;
    try {
      const ex = await app.api.post(urls.greetings(), { kind, invitation: id });
      const end = await runExchange(app, exchange, {
        peerLabel: who,
        poll: () => app.api.poll(urls.greeting(ex.id)),
        answer: (body) => app.api.post(urls.greetingAnswer(ex.id), body),
        cancel: () => app.api.del(urls.greeting(ex.id)),
      });
      const r = end.result || {};
      add(exchange, h('p', { class: 'notice', id: 'enrolled' }, kind === 'device'
        ? t('people.deviceEnrolled', { device: r.deviceLabel || '' })
        : t('people.enrolled', { name: [r.name, r.email && `<${r.email}>`].filter(Boolean).join(' ') || who })));
    } catch (err) {
      if (!err.shown) app.fail(err);
      start.disabled = false;
    }
  }, { class: 'primary', id: 'start-greeting' });
  replace(box,
    h('p', null, kind === 'device' ? t('people.deviceLinkIntro') : t('people.linkIntro', { email: who })),
    linkBox, copy,
    h('ol', { class: 'steps' },
      h('li', null, kind === 'device' ? t('people.deviceStep1') : t('people.step1')),
      h('li', null, t('people.step2')),
      h('li', null, t('people.step3'))),
    start, exchange);
}

// deviceSection adds another device of this person (a second computer):
// the same link and code exchange, with the new device's first run.
export function deviceSection(app) {
  const t = app.t;
  const out = h('div', { id: 'device-invitation' });
  const make = button(t('people.addDevice'), async () => {
    make.disabled = true;
    try {
      const inv = await app.api.post(urls.invitations(), { kind: 'device' });
      showInvitation(app, out, inv, t('people.yourOtherDevice'), 'device');
      make.hidden = true;
    } catch (err) { app.fail(err); make.disabled = false; }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'device-title' },
    h('h2', { id: 'device-title' }, t('people.deviceTitle')),
    h('p', null, t('people.deviceIntro')), make, out);
}

async function auditSection(app) {
  const t = app.t;
  let entries = [];
  try {
    entries = (await app.api.get(urls.audit())) || [];
  } catch (err) {
    if (err.status !== 403) throw err;
    return;
  }
  const result = h('div', { id: 'verify-result', role: 'status', 'aria-live': 'polite' });
  const verify = button(t('audit.verify'), async () => {
    verify.disabled = true;
    result.textContent = t('audit.verifying');
    try {
      const v = await app.api.get(urls.verify());
      replace(result,
        h('p', { class: v.consistent ? 'state-ok' : 'state-bad' }, v.consistent ? t('audit.verifyOK') : t('audit.verifyBad')),
        h('p', null, v.summary || ''),
        v.problem ? h('p', { class: 'state-bad' }, v.problem) : null);
    } catch (err) { result.textContent = ''; app.fail(err); } finally { verify.disabled = false; }
  }, { id: 'verify' });
  const rows = entries.slice(-200).reverse().map((e) => h('tr', null,
    h('td', { class: 'num' }, String(e.position ?? '')),
    h('td', null, formatTime(e.time, app.lang)),
    h('td', null, e.author || ''),
    h('td', null, e.action || '')));
  add(app.main, h('section', { 'aria-labelledby': 'audit-title' },
    h('h2', { id: 'audit-title' }, t('audit.title')),
    h('div', { class: 'toolbar' }, verify), result,
    h('table', { class: 'list', id: 'audit' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col', class: 'num' }, '#'),
        h('th', { scope: 'col' }, t('audit.time')),
        h('th', { scope: 'col' }, t('audit.author')),
        h('th', { scope: 'col' }, t('audit.what')))),
      h('tbody', null, rows))));
}
