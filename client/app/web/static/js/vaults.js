// The vaults screen: each vault with the person's role and its number of
// members; create, rename, archive (and bring back from the archive).
import { h, replace, field, button, formatDate, formatTime, confirmDialog } from './dom.js';
import { lastConnectionText } from './lock.js';

// vaultList reads GET /api/vaults (docs/API.md): the vaults this person
// is a member of, archived ones included.
export async function vaultList(app) {
  const r = await app.api.get('/api/vaults');
  return (r || []).map((v) => ({
    id: v.id,
    name: v.name ?? '',
    role: v.role || '',
    until: v.until || null,
    members: v.members ?? 0,
    archived: !!v.archived,
    canWrite: !!v.canWrite,
    canManage: !!v.canManage,
  }));
}

export async function vaultsScreen(app, params) {
  const t = app.t;
  const showArchived = params.get('archived') === '1';
  const vaults = await vaultList(app);
  const emergencies = await app.api.get('/api/emergencies').catch(() => null);
  const banner = app.showLastConnection && app.state.lastConnection
    ? h('p', { class: 'notice', id: 'last-connection' }, lastConnectionText(app, app.state.lastConnection))
    : null;

  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, autocomplete: 'off' });
  const create = h('form', {
    class: 'inline-form',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await app.api.post('/api/vaults', { name: name.value.trim() });
        app.notify(t('vaults.created', { name: name.value.trim() }));
        name.value = '';
        app.render();
      } catch (err) { app.fail(err); }
    },
  }, field(t('vaults.newName'), name), h('button', { type: 'submit', class: 'primary' }, t('vaults.create')));

  const rows = vaults
    .filter((v) => showArchived || !v.archived)
    .map((v) => {
      const canManage = v.canManage;
      const nameCell = h('td', null, h('a', { href: `#/vault/${encodeURIComponent(v.id)}/files`, class: 'vault-link' }, v.name));
      const rename = () => {
        const input = h('input', { type: 'text', value: v.name, required: true, 'aria-label': t('vaults.renameLabel', { name: v.name }) });
        const form = h('form', {
          class: 'inline-form',
          onsubmit: async (e) => {
            e.preventDefault();
            try {
              await app.api.patch(`/api/vaults/${encodeURIComponent(v.id)}`, { name: input.value.trim() });
              app.notify(t('vaults.renamed', { name: input.value.trim() }));
              app.render();
            } catch (err) { app.fail(err); }
          },
        }, input, h('button', { type: 'submit' }, t('common.save')), button(t('common.cancel'), () => app.render()));
        replace(nameCell, form);
        input.focus();
        input.select();
      };
      const archive = async () => {
        const msg = v.archived ? t('vaults.confirmUnarchive', { name: v.name }) : t('vaults.confirmArchive', { name: v.name });
        if (!await confirmDialog(msg, v.archived ? t('vaults.unarchive') : t('vaults.archive'), t('common.cancel'))) return;
        try {
          await app.api.patch(`/api/vaults/${encodeURIComponent(v.id)}`, { archived: !v.archived });
          app.notify(v.archived ? t('vaults.unarchived', { name: v.name }) : t('vaults.archived', { name: v.name }));
          app.render();
        } catch (err) { app.fail(err); }
      };
      return h('tr', { 'data-vault': v.name },
        nameCell,
        h('td', null, t(`role.${v.role}`), v.until ? h('span', { class: 'muted' }, ' ', t('vaults.until', { date: formatDate(v.until, app.lang) })) : null),
        h('td', { class: 'num' }, String(v.members)),
        h('td', null, v.archived ? t('vaults.archivedState') : ''),
        h('td', { class: 'row-actions' },
          h('a', { href: `#/vault/${encodeURIComponent(v.id)}/sharing`, class: 'button' }, t('vaults.sharing')),
          canManage ? button(t('vaults.rename'), rename, { 'aria-label': t('vaults.renameLabel', { name: v.name }) }) : null,
          v.role === 'owner' ? button(v.archived ? t('vaults.unarchive') : t('vaults.archive'), archive,
            { 'aria-label': (v.archived ? t('vaults.unarchiveLabel', { name: v.name }) : t('vaults.archiveLabel', { name: v.name })) }) : null));
    });

  replace(app.main,
    banner,
    emergencyNotices(app, emergencies),
    h('h1', null, t('vaults.title')),
    rows.length
      ? h('table', { class: 'list', id: 'vaults' },
        h('caption', { class: 'sr-only' }, t('vaults.title')),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, t('vaults.name')),
          h('th', { scope: 'col' }, t('vaults.role')),
          h('th', { scope: 'col', class: 'num' }, t('vaults.members')),
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('vaults.state'))),
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
        h('tbody', null, rows))
      : h('p', { class: 'empty' }, t('vaults.none')),
    h('p', null, h('a', { href: showArchived ? '#/vaults' : '#/vaults?archived=1' }, showArchived ? t('vaults.hideArchived') : t('vaults.showArchived'))),
    h('section', { 'aria-labelledby': 'create-title' }, h('h2', { id: 'create-title' }, t('vaults.createTitle')), create),
    invokeSection(app, emergencies));
}

// emergencyNotices shows the running emergency accesses GET /api/emergencies
// lists (docs/API.md): to an owner or manager, who opened their vault, why,
// until when; to the invoker, their own.
function emergencyNotices(app, list) {
  const t = app.t;
  const running = ((list && list.emergencies) || []).filter((e) => e.kind === 'emergency' && e.running);
  if (!running.length) return null;
  return h('section', { id: 'emergencies', class: 'notice warning', 'aria-labelledby': 'emergencies-title' },
    h('h2', { id: 'emergencies-title' }, t('emergency.title')),
    h('ul', null, running.map((e) => h('li', { 'data-vault-id': e.vaultId },
      t('emergency.running', { user: e.user, vault: e.vault || e.vaultId, until: formatTime(e.until, app.lang) }),
      ' ', h('q', null, e.reason),
      e.needsApproval && !e.approved ? h('span', { class: 'muted' }, ' ', t('emergency.awaitingApproval')) : null))));
}

// invokeSection lets a person the policy names invoke a vault's emergency
// access with a reason (POST /api/emergencies): they are no member, so the
// vault is known by its id and creator.
function invokeSection(app, list) {
  const t = app.t;
  const vaults = (list && list.invocable) || [];
  if (!vaults.length) return null;
  return h('section', { id: 'invoke', 'aria-labelledby': 'invoke-title' },
    h('h2', { id: 'invoke-title' }, t('emergency.invokeTitle')),
    h('p', null, t('emergency.invokeHelp')),
    vaults.map((v) => {
      const reason = h('input', { type: 'text', name: 'reason', required: true, maxlength: 500, autocomplete: 'off' });
      return h('form', {
        class: 'inline-form',
        'data-vault-id': v.vaultId,
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            const got = await app.api.post('/api/emergencies', { vault: v.vaultId, reason: reason.value.trim() });
            app.notify(t('emergency.invoked', { until: formatTime(got.until, app.lang) }));
            app.render();
          } catch (err) { app.fail(err); }
        },
      }, h('p', null, t('emergency.vaultOf', { id: v.vaultId, user: v.createdBy, hours: String(v.hours) })),
      field(t('emergency.reason'), reason), h('button', { type: 'submit', class: 'danger' }, t('emergency.invoke')));
    }));
}
