// Devices: this person's devices as the verified organisation log
// describes them (SPEC.md §15.1), with the last connection the server
// recorded; revoking one (§15.2) after a confirmation that says what
// happens, and the answer in words: what was rotated, what is left to
// managers, which devices did not get the new keys. An administrator sees
// another person's devices from the People page (#/devices?user=EMAIL).
// Adding a device is the device invitation of the People page, shown here
// too.
import { h, replace, add, button, formatTime, confirmDialog } from './dom.js';
import { enc } from './api.js';
import { deviceSection } from './people.js';

const urls = {
  devices: (user) => (user ? `/api/devices?user=${enc(user)}` : '/api/devices'),
  revoke: (id) => `/api/devices/${enc(id)}/revoke`,
  recovery: () => '/api/devices/recovery',
};

export async function devicesScreen(app, params) {
  const t = app.t;
  const user = params.get('user') || '';
  const list = await app.api.get(urls.devices(user));
  const devices = list.devices || [];
  const result = h('div', { id: 'revocation', role: 'status', 'aria-live': 'polite', tabindex: '-1' });

  const rows = devices.map((d) => {
    const label = d.label || d.id;
    const marks = [];
    if (d.this) marks.push(h('span', { class: 'badge' }, t('devices.thisDevice')));
    if (d.noSealKey) marks.push(h('span', { class: 'badge warn', title: t('devices.noSealKeyHint') }, t('devices.noSealKey')));
    let state = t('devices.active');
    if (d.revoked) state = t('devices.revokedOn', { time: formatTime(d.revokedOn, app.lang), who: d.revokedBy || t('common.unknown') });
    else if (list.userRevoked) state = t('devices.userRevokedOn', { time: formatTime(list.userRevokedOn, app.lang) });
    let last = '';
    if (list.offline) last = t('devices.offline');
    else if (d.lastConnection) last = t('devices.lastAt', { time: formatTime(d.lastConnection, app.lang), address: d.lastAddress || '' });
    else last = t('devices.never');
    const revoke = !d.revoked && !list.userRevoked && !d.this ? button(t('devices.revoke'), async () => {
      if (!await confirmDialog(t('devices.confirmRevoke', { device: label }), t('devices.revoke'), t('common.cancel'),
        list.me ? t('devices.revokeDetail') : t('devices.revokeDetailOther', { user: list.user }))) return;
      try {
        const r = await app.api.post(urls.revoke(d.id));
        await devicesScreen(app, params); // the list as the log now says
        showRevocation(app, app.main.querySelector('#revocation'), r, label, list.me);
      } catch (err) { app.fail(err); }
    }, { class: 'danger', 'aria-label': t('devices.revokeOf', { device: label }) }) : null;
    return h('tr', { 'data-device': d.id, class: d.revoked || list.userRevoked ? 'revoked' : null },
      h('td', null, label, marks.length ? ' ' : null, marks),
      h('td', null, t('devices.enrolledOn', { time: formatTime(d.created, app.lang) }),
        d.createdBy ? h('br') : null, d.createdBy ? t('devices.enrolledBy', { who: d.createdBy }) : null),
      h('td', null, last),
      h('td', null, state),
      h('td', { class: 'row-actions' }, revoke));
  });

  replace(app.main,
    h('h1', null, list.me ? t('devices.title') : t('devices.titleOf', { name: list.name || list.user })),
    list.me ? h('p', null, t('devices.intro')) : h('p', null, h('a', { href: '#/people' }, t('devices.backToPeople'))),
    list.offline ? h('p', { class: 'notice' }, t('devices.offlineNote')) : null,
    result,
    h('table', { class: 'list', id: 'devices' },
      h('caption', { class: 'sr-only' }, t('devices.title')),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('devices.label')),
        h('th', { scope: 'col' }, t('devices.enrolled')),
        h('th', { scope: 'col' }, t('devices.lastConnection')),
        h('th', { scope: 'col' }, t('devices.state')),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
      h('tbody', null, rows)));
  if (list.me) add(app.main, deviceSection(app), recoverySection(app, params));
}

// recoverySection exports a recovery file (SPEC.md §15.5): the file is
// offered as a download from memory, the secret shown once in groups until
// the person says they wrote it down; the page then forgets both.
function recoverySection(app, params) {
  const t = app.t;
  const out = h('div', { id: 'recovery-export' });
  const make = button(t('recovery.create'), async () => {
    if (!await confirmDialog(t('recovery.confirm'), t('recovery.create'), t('common.cancel'), t('recovery.confirmDetail'))) return;
    make.disabled = true;
    replace(out, h('p', { class: 'loading' }, t('recovery.creating')));
    try {
      const r = await app.api.post(urls.recovery());
      make.hidden = true;
      showRecovery(app, out, r, params);
    } catch (err) { replace(out); make.disabled = false; app.fail(err); }
  }, { id: 'recovery-create' });
  return h('section', { class: 'card', 'aria-labelledby': 'recovery-title' },
    h('h2', { id: 'recovery-title' }, t('recovery.title')),
    h('p', null, t('recovery.intro')), make, out);
}

function showRecovery(app, box, r, params) {
  const t = app.t;
  const bytes = Uint8Array.from(atob(r.file || ''), (c) => c.charCodeAt(0));
  let blobURL = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const download = h('a', { href: blobURL, download: r.fileName || 'coffre-recovery.age', class: 'button primary', id: 'recovery-download' },
    t('recovery.download'));
  const groups = String(r.secret || '').split('-').map((g) => h('span', { class: 'group' }, g));
  const secret = h('p', { class: 'code recovery-secret', id: 'recovery-secret', 'aria-label': t('recovery.secretLabel') }, groups);
  const wrote = h('input', { type: 'checkbox', id: 'recovery-wrote' });
  const finish = button(t('recovery.done'), () => {
    URL.revokeObjectURL(blobURL);
    blobURL = null;
    replace(box, h('p', { class: 'notice', id: 'recovery-finished' }, t('recovery.finished', { device: r.device && r.device.label })));
    app.notify(t('recovery.finished', { device: r.device && r.device.label }));
    devicesScreen(app, params).catch(app.fail);
  }, { class: 'primary', id: 'recovery-finish', disabled: true });
  wrote.addEventListener('change', () => { finish.disabled = !wrote.checked; });
  replace(box,
    h('ol', { class: 'steps' },
      h('li', null, t('recovery.step1'), ' ', download),
      h('li', null, t('recovery.step2'), secret, h('p', { class: 'hint' }, t('recovery.once'))),
      h('li', null, h('label', { for: 'recovery-wrote' }, wrote, ' ', t('recovery.wrote')))),
    h('div', { class: 'actions' }, finish));
  download.focus();
}

// showRevocation says in words what a revocation did.
function showRevocation(app, box, r, label, mine) {
  const t = app.t;
  const names = (vs) => vs.map((v) => v.name || v.id).join(', ');
  const items = [h('li', null, t('devices.revokedNow', { device: label }))];
  if (r.userKeysRotated) items.push(h('li', null, mine ? t('devices.userKeysRotated') : t('devices.userKeysRotatedOther')));
  else if (r.userKeysError) items.push(h('li', { class: 'state-bad' }, t('devices.userKeysNotRotated')));
  else if (!mine) items.push(h('li', null, t('devices.userKeysLater')));
  for (const d of r.stranded || []) items.push(h('li', { class: 'state-bad' }, t('devices.stranded', { device: d.label || d.id })));
  if ((r.rotated || []).length) items.push(h('li', null, t('devices.vaultsRotated', { vaults: names(r.rotated) })));
  if ((r.pending || []).length) items.push(h('li', null, t('devices.vaultsPending', { vaults: names(r.pending) })));
  if (!(r.rotated || []).length && !(r.pending || []).length) items.push(h('li', null, t('devices.noVaults')));
  if (r.error) items.push(h('li', { class: 'state-bad' }, t('devices.incomplete', { message: r.error.message || '' })));
  replace(box, h('section', { class: 'card', 'aria-labelledby': 'revocation-title' },
    h('h2', { id: 'revocation-title' }, t('devices.revocationTitle', { device: label })),
    h('ul', null, items),
    h('p', { class: 'hint' }, t('devices.wipeOnReturn'))));
  box.focus();
  app.notify(t('devices.revokedNow', { device: label }));
}
