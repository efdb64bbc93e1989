// Sync: the folders of this computer kept in sync with a vault, each with
// its state (up to date, syncing N files, offline, locked, conflicts with
// the copies kept, files that can't be uploaded and why); add one, pause,
// resume, stop.
import { h, replace, add, field, button, formatTime } from './dom.js';
import { enc } from './api.js';
import { vaultList } from './vaults.js';

const urls = {
  folders: () => '/api/sync',
  folder: (id) => `/api/sync/${enc(id)}`,
  pause: (id) => `/api/sync/${enc(id)}/pause`,
  resume: (id) => `/api/sync/${enc(id)}/resume`,
};

function readFolder(f) {
  return {
    id: f.id || f.dir || f.path,
    dir: f.dir || f.path || f.local || '',
    vault: f.vault_name || f.vault || '',
    vaultId: f.vault_id || '',
    state: f.state || (f.paused ? 'paused' : 'idle'),
    pending: f.pending ?? f.syncing ?? 0,
    conflicts: f.conflicts || [],
    rejected: f.rejected || f.errors || [],
    last: f.last_sync || f.synced_at || null,
    paused: !!f.paused || f.state === 'paused',
  };
}

export async function syncScreen(app) {
  const t = app.t;
  const r = await app.api.get(urls.folders());
  const folders = (Array.isArray(r) ? r : r.folders || []).map(readFolder);
  const vaults = (await vaultList(app)).filter((v) => !v.archived);

  const stateText = (f) => {
    if (f.paused) return t('sync.state.paused');
    if (f.state === 'syncing' || f.pending > 0) return t('sync.state.syncing', { count: f.pending });
    if (['offline', 'locked', 'error', 'stopped'].includes(f.state)) return t(`sync.state.${f.state}`);
    return t('sync.state.idle');
  };
  const items = folders.map((f) => h('li', { class: 'card', 'data-folder': f.dir },
    h('h2', null, f.dir),
    h('p', null, t('sync.vault', { vault: f.vault })),
    h('p', { class: f.state === 'error' || f.state === 'offline' ? 'state-bad' : 'state-ok' }, stateText(f),
      f.last ? h('span', { class: 'muted' }, ` · ${t('sync.last', { time: formatTime(f.last, app.lang) })}`) : null),
    f.conflicts.length ? h('div', null, h('h3', null, t('sync.conflicts', { count: f.conflicts.length })),
      h('ul', null, f.conflicts.map((c) => h('li', null, typeof c === 'string' ? c : `${c.path} → ${c.copy || ''}`)))) : null,
    f.rejected.length ? h('div', null, h('h3', null, t('sync.rejected', { count: f.rejected.length })),
      h('ul', null, f.rejected.map((c) => h('li', null, typeof c === 'string' ? c : `${c.path}: ${c.reason || c.message || ''}`)))) : null,
    h('div', { class: 'actions' },
      button(f.paused ? t('sync.resume') : t('sync.pause'), async () => {
        try {
          await app.api.post(f.paused ? urls.resume(f.id) : urls.pause(f.id));
          app.render();
        } catch (err) { app.fail(err); }
      }, { 'aria-label': (f.paused ? t('sync.resumeOf', { dir: f.dir }) : t('sync.pauseOf', { dir: f.dir })) }),
      button(t('sync.remove'), async () => {
        try {
          await app.api.del(urls.folder(f.id));
          app.notify(t('sync.removed', { dir: f.dir }));
          app.render();
        } catch (err) { app.fail(err); }
      }, { 'aria-label': t('sync.removeOf', { dir: f.dir }) }))));

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
        app.render();
      } catch (err) { app.fail(err); }
    },
  },
  h('h2', { id: 'sync-add-title' }, t('sync.addTitle')),
  h('div', { class: 'field' }, h('label', { for: 'sync-vault' }, t('sync.vaultLabel')), vault),
  field(t('sync.dir'), dir, t('sync.dirHint')),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('sync.add'))));

  replace(app.main, h('h1', null, t('sync.title')),
    folders.length ? h('ul', { class: 'folders', id: 'folders' }, items) : h('p', { class: 'empty' }, t('sync.none')));
  add(app.main, vaults.length ? form : h('p', { class: 'muted' }, t('sync.noVault')));
}
