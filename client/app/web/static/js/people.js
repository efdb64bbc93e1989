// People, for administrators: the members and their profiles, change a
// profile, revoke, invite someone (the link to send, then the code
// exchange on screen), and the audit trail with its verification in words.
import { h, replace, add, field, button, formatTime, confirmDialog } from './dom.js';
import { enc } from './api.js';
import { codeExchange } from './enrol.js';

export const profiles = ['standard', 'admin', 'outsider'];

const urls = {
  users: () => '/api/users',
  profile: (u) => `/api/users/${enc(u)}/profile`,
  revoke: (u) => `/api/users/${enc(u)}/revoke`,
  invitations: () => '/api/invitations',
  cancel: (i) => `/api/invitations/${enc(i)}/cancel`,
  greet: (i) => `/api/invitations/${enc(i)}/greet`,
  greeting: (i) => `/api/invitations/${enc(i)}/greet`,
  greetCode: (i) => `/api/invitations/${enc(i)}/greet/code`,
  audit: () => '/api/audit',
  verify: () => '/api/audit/verify',
};

function readUser(u) {
  return {
    id: u.id || u.ID,
    name: u.name ?? '',
    email: u.email ?? '',
    profile: u.profile || '',
    revoked: u.revoked || null,
    devices: Array.isArray(u.devices) ? u.devices.length : (u.devices ?? 0),
    yourself: !!u.yourself,
  };
}

export async function peopleScreen(app) {
  const t = app.t;
  const r = await app.api.get(`${urls.users()}?all=true`);
  const users = (Array.isArray(r) ? r : r.users || []).map(readUser);
  const admin = !!(app.me && app.me.profile === 'admin');

  const rows = users.map((u) => {
    const profileCell = h('td', null, t(`profile.${u.profile}`));
    if (admin && !u.revoked && !u.yourself) {
      const sel = h('select', { 'aria-label': t('people.profileOf', { name: u.name }) },
        profiles.map((p) => h('option', { value: p, selected: p === u.profile }, t(`profile.${p}`))));
      sel.addEventListener('change', async () => {
        try {
          await app.api.post(urls.profile(u.id), { profile: sel.value });
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
      h('td', { class: 'num' }, String(u.devices)),
      h('td', null, u.revoked ? t('people.revokedOn', { time: formatTime(u.revoked, app.lang) }) : t('people.active')),
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
        const inv = await app.api.post(urls.invitations(), { email: email.value.trim(), profile: profile.value });
        showInvitation(app, out, inv, email.value.trim());
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
function showInvitation(app, box, inv, email) {
  const t = app.t;
  const id = inv.id || inv.invitation_id;
  const link = inv.link || inv.url || '';
  const linkBox = h('p', { class: 'link-box', id: 'invitation-link' }, link);
  const copy = button(t('people.copyLink'), async () => {
    try { await navigator.clipboard.writeText(link); app.notify(t('people.copied')); } catch { app.notify(t('people.copyByHand')); }
  });
  const exchange = h('div', { id: 'greeting' });
  const start = button(t('people.startGreeting'), async () => {
    start.disabled = true;
    try {
      await app.api.post(urls.greet(id));
      const s = await codeExchange(app, exchange, {
        peerLabel: email,
        poll: () => app.api.get(urls.greeting(id)),
        send: (code) => app.api.post(urls.greetCode(id), { code }),
      });
      const who = s.peer && s.peer.name ? `${s.peer.name} <${email}>` : email;
      add(exchange, h('p', { class: 'notice', id: 'enrolled' }, t('people.enrolled', { name: who })));
    } catch (err) {
      app.fail(err);
      start.disabled = false;
    }
  }, { class: 'primary', id: 'start-greeting' });
  replace(box,
    h('p', null, t('people.linkIntro', { email })),
    linkBox, copy,
    h('ol', { class: 'steps' },
      h('li', null, t('people.step1')),
      h('li', null, t('people.step2')),
      h('li', null, t('people.step3'))),
    start, exchange);
}

async function auditSection(app) {
  const t = app.t;
  let entries = [];
  try {
    const r = await app.api.get(urls.audit());
    entries = Array.isArray(r) ? r : r.entries || r.certificates || [];
  } catch (err) {
    if (err.status !== 403) throw err;
    return;
  }
  const result = h('div', { id: 'verify-result', role: 'status', 'aria-live': 'polite' });
  const verify = button(t('audit.verify'), async () => {
    verify.disabled = true;
    result.textContent = t('audit.verifying');
    try {
      const v = await app.api.post(urls.verify());
      const problems = v.problems || v.Problems || [];
      const ok = v.ok ?? v.OK ?? problems.length === 0;
      replace(result, h('p', { class: ok ? 'state-ok' : 'state-bad' }, ok ? t('audit.verifyOK', { count: v.checked ?? v.certificates ?? entries.length }) : t('audit.verifyBad', { count: problems.length })),
        problems.length ? h('ul', null, problems.map((p) => h('li', null, typeof p === 'string' ? p : p.message || JSON.stringify(p)))) : null);
    } catch (err) { result.textContent = ''; app.fail(err); } finally { verify.disabled = false; }
  }, { id: 'verify' });
  const rows = entries.slice(-200).reverse().map((e) => h('tr', null,
    h('td', null, formatTime(e.time || e.Time, app.lang)),
    h('td', null, e.author || e.by || e.Author || ''),
    h('td', null, e.text || e.what || e.description || e.Text || '')));
  add(app.main, h('section', { 'aria-labelledby': 'audit-title' },
    h('h2', { id: 'audit-title' }, t('audit.title')),
    h('div', { class: 'toolbar' }, verify), result,
    h('table', { class: 'list', id: 'audit' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('audit.time')),
        h('th', { scope: 'col' }, t('audit.author')),
        h('th', { scope: 'col' }, t('audit.what')))),
      h('tbody', null, rows))));
}
