// Sync: the folders of this computer kept in sync with a vault, each with
// its state (up to date, syncing N files, offline, locked, conflicts with
// the copies kept, files the vault can't take and why); add one, pause,
// resume. The list refreshes itself while the screen is open.
import { h, replace, add, field, button, formatTime, formatSize } from './dom.js';
import { enc } from './api.js';
import { vaultList } from './vaults.js';

const urls = {
  folders: () => '/api/sync',
  pause: (id) => `/api/sync/${enc(id)}/pause`,
  resume: (id) => `/api/sync/${enc(id)}/resume`,
};

function stateText(t, f) {
  switch (f.state) {
    case 'syncing': return t('sync.state.syncing', { count: f.pending || 0 });
    case 'paused': case 'locked': case 'offline': case 'error': case 'stopped': case 'up_to_date':
      return t(`sync.state.${f.state}`);
    default: return f.state || '';
  }
}

function folderItem(app, f, refresh) {
  const t = app.t;
  const conflicts = f.conflicts || [];
  const localOnly = f.localOnly || [];
  const bad = f.state === 'error' || f.state === 'offline';
  return h('li', { class: 'card', 'data-folder': f.dir },
    h('h2', null, f.dir),
    h('p', null, t('sync.vault', { vault: f.vault || t('sync.formerVault') })),
    h('p', { class: bad ? 'state-bad sync-state' : 'state-ok sync-state' }, stateText(t, f),
      f.state === 'syncing' && f.pendingBytes ? ` (${formatSize(f.pendingBytes, app.lang)})` : null,
      f.lastSync ? h('span', { class: 'muted' }, ` · ${t('sync.last', { time: formatTime(f.lastSync, app.lang) })}`) : null),
    f.lastError ? h('p', { class: 'state-bad' }, f.lastError) : null,
    conflicts.length ? h('div', null, h('h3', null, t('sync.conflicts', { count: conflicts.length })),
      h('ul', null, conflicts.map((c) => h('li', null, t('sync.conflictCopy', { copy: c.copy, path: c.path }))))) : null,
    localOnly.length ? h('div', null, h('h3', null, t('sync.rejected', { count: localOnly.length })),
      h('ul', null, localOnly.map((c) => h('li', null, `${c.path}: ${c.why}`)))) : null,
    h('div', { class: 'actions' },
      button(f.state === 'paused' ? t('sync.resume') : t('sync.pause'), async () => {
        try {
          await app.api.post(f.state === 'paused' ? urls.resume(f.id) : urls.pause(f.id));
          refresh();
        } catch (err) { app.fail(err); }
      }, { 'aria-label': (f.state === 'paused' ? t('sync.resumeOf', { dir: f.dir }) : t('sync.pauseOf', { dir: f.dir })) })));
}

let timer = null;

export async function syncScreen(app) {
  const t = app.t;
  const list = h('div', { id: 'folders-box', 'aria-live': 'polite' });
  const refresh = async (poll) => {
    const folders = (await (poll ? app.api.poll(urls.folders()) : app.api.get(urls.folders()))) || [];
    replace(list, folders.length
      ? h('ul', { class: 'folders', id: 'folders' }, folders.map((f) => folderItem(app, f, () => refresh().catch(app.fail))))
      : h('p', { class: 'empty' }, t('sync.none')));
  };
  await refresh();
  const vaults = (await vaultList(app)).filter((v) => !v.archived);

  const dir = h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' });
  const vault = h('select', { id: 'sync-vault', required: true }, vaults.map((v) => h('option', { value: v.id }, v.name)));
  const form = h('form', {
    class: 'card',
    'aria-labelledby': 'sync-add-title',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await app.api.post(urls.folders(), { vault: vault.value, dir: dir.value.trim() });
        app.notify(t('sync.added', { dir: dir.value.trim() }));
        dir.value = '';
        await refresh();
      } catch (err) { app.fail(err); }
    },
  },
  h('h2', { id: 'sync-add-title' }, t('sync.addTitle')),
  h('div', { class: 'field' }, h('label', { for: 'sync-vault' }, t('sync.vaultLabel')), vault),
  field(t('sync.dir'), dir, t('sync.dirHint')),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('sync.add'))));

  replace(app.main, h('h1', null, t('sync.title')), list);
  add(app.main, vaults.length ? form : h('p', { class: 'muted' }, t('sync.noVault')));
  clearInterval(timer);
  timer = setInterval(() => {
    if (!document.body.contains(list)) { clearInterval(timer); return; }
    refresh(true).catch(() => {});
  }, 3000);
}
