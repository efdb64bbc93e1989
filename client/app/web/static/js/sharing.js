// Sharing one vault: its members and their roles, share with a role and
// an optional end date, change a role, unshare (the vault's key rotates,
// so that the person can read nothing written afterwards: the screen says
// so before).
import { t as tr } from './i18n.js';
import { h, replace, add, field, button, formatDate, confirmDialog } from './dom.js';
import { enc } from './api.js';
import { vaultList } from './vaults.js';

export const roles = ['reader', 'contributor', 'manager', 'owner'];

const urls = {
  members: (v) => `/api/vaults/${enc(v)}/members`,
  member: (v, u) => `/api/vaults/${enc(v)}/members/${enc(u)}`,
  users: () => '/api/users',
};

function readMember(m, me) {
  return { id: m.userId, name: m.unknown ? tr('people.unknown', { id: m.userId }) : m.name ?? '', email: m.email ?? '', role: m.role, until: m.until || null, yourself: m.userId === me };
}

// endOfDay turns a date field's YYYY-MM-DD into the end of that day, here.
function endOfDay(d) {
  return d ? new Date(`${d}T23:59:59`).toISOString() : undefined;
}

export async function sharingScreen(app, vaultId) {
  const t = app.t;
  const vault = (await vaultList(app)).find((v) => v.id === vaultId);
  if (!vault) {
    replace(app.main, h('h1', null, t('files.noVault')), h('p', null, h('a', { href: '#/vaults' }, t('files.backToVaults'))));
    return;
  }
  const r = await app.api.get(urls.members(vaultId));
  const members = (r || []).map((m) => readMember(m, app.state.userId));
  const manage = vault.canManage && !vault.archived;
  // the directory, for the share form's suggestions (outsiders have none)
  let people = [];
  if (manage) {
    try {
      const u = await app.api.get(urls.users());
      people = (Array.isArray(u) ? u : u.users || []).filter((p) => !p.revoked);
    } catch { /* no directory: type the address */ }
  }

  const roleSelect = (value, label, attrs = {}) => h('select', { 'aria-label': label, ...attrs },
    roles.map((ro) => h('option', { value: ro, selected: ro === value }, t(`role.${ro}`))));

  const rows = members.map((m) => {
    const who = m.name ? `${m.name} <${m.email}>` : m.email || m.id;
    const roleCell = h('td', null, t(`role.${m.role}`));
    if (manage && !m.yourself) {
      const sel = roleSelect(m.role, t('sharing.roleOf', { name: m.name || m.email }));
      sel.addEventListener('change', async () => {
        try {
          await app.api.put(urls.member(vaultId, m.id), { role: sel.value, until: sel.value === 'reader' || sel.value === 'contributor' ? m.until || undefined : undefined });
          app.notify(t('sharing.roleChanged', { name: m.name || m.email, role: t(`role.${sel.value}`) }));
          app.render();
        } catch (err) { app.fail(err); sel.value = m.role; }
      });
      replace(roleCell, sel);
    }
    return h('tr', { 'data-member': m.email || m.name },
      h('td', null, who, m.yourself ? h('span', { class: 'muted' }, ` (${t('sharing.you')})`) : null),
      roleCell,
      h('td', null, m.until ? formatDate(m.until, app.lang) : t('sharing.noEnd')),
      h('td', { class: 'row-actions' }, manage && !m.yourself ? button(t('sharing.unshare'), async () => {
        const ok = await confirmDialog(t('sharing.confirmUnshare', { name: m.name || m.email, vault: vault.name }),
          t('sharing.unshare'), t('common.cancel'), t('sharing.keyRotates'));
        if (!ok) return;
        try {
          await app.api.del(urls.member(vaultId, m.id));
          app.notify(t('sharing.unshared', { name: m.name || m.email }));
          app.render();
        } catch (err) { app.fail(err); }
      }, { class: 'danger', 'aria-label': t('sharing.unshareOf', { name: m.name || m.email }) }) : null));
  });

  replace(app.main,
    h('h1', null, t('sharing.title', { vault: vault.name })),
    h('nav', { class: 'toolbar' }, h('a', { class: 'button', href: `#/vault/${enc(vaultId)}/files` }, t('sharing.backToFiles'))),
    h('table', { class: 'list', id: 'members' },
      h('caption', { class: 'sr-only' }, t('sharing.members')),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('sharing.person')),
        h('th', { scope: 'col' }, t('sharing.role')),
        h('th', { scope: 'col' }, t('sharing.until')),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
      h('tbody', null, rows)));

  if (!manage) {
    add(app.main, h('p', { class: 'muted' }, t('sharing.onlyManagers')));
    return;
  }
  const listId = 'people-list';
  const who = h('input', { type: 'text', required: true, list: listId, autocomplete: 'off' });
  const role = roleSelect('reader', t('sharing.role'), { id: 'share-role' });
  const until = h('input', { type: 'date' });
  const form = h('form', {
    class: 'card',
    'aria-labelledby': 'share-title',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await app.api.put(urls.member(vaultId, who.value.trim()), { role: role.value, until: endOfDay(until.value) });
        app.notify(t('sharing.shared', { name: who.value.trim(), role: t(`role.${role.value}`) }));
        app.render();
      } catch (err) { app.fail(err); }
    },
  },
  h('h2', { id: 'share-title' }, t('sharing.shareTitle')),
  field(t('sharing.who'), who, t('sharing.whoHint')),
  h('datalist', { id: listId }, people.map((p) => h('option', { value: p.email }, p.name))),
  h('div', { class: 'field' }, h('label', { for: 'share-role' }, t('sharing.role')), role),
  field(t('sharing.untilLabel'), until, t('sharing.untilHint')),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('sharing.share'))));
  add(app.main, form);
}
