// The files of one vault: breadcrumb, sortable and paged listing (a folder
// of 10,000 entries is fetched and drawn a page at a time), upload by
// button or drag-and-drop of files and whole folders with progress and
// cancel, download, preview in the page (nothing written to disk), new
// folder, rename, move, delete; the trash with undelete; a file's history
// with author and time, restore; and the vault "as of" a past date.
import { t as tr } from './i18n.js';
import { h, replace, add, field, button, formatSize, formatTime, confirmDialog } from './dom.js';
import { q, enc, upload } from './api.js';
import { vaultList } from './vaults.js';

export const pageSize = 100;

// The app's file endpoints (docs/API.md), in one place.
const urls = {
  list: (v, p) => `/api/vaults/${enc(v)}/files${q(p)}`,
  content: (v, path, version, at) => `/api/vaults/${enc(v)}/content${q({ path, version, at })}`,
  upload: (v, path, overwrite) => `/api/vaults/${enc(v)}/content${q({ path, parents: 1, overwrite: overwrite ? 1 : '' })}`,
  preview: (v, path, version, at) => `/api/vaults/${enc(v)}/preview${q({ path, version, at })}`,
  folders: (v) => `/api/vaults/${enc(v)}/folders`,
  move: (v) => `/api/vaults/${enc(v)}/move`,
  remove: (v, path, folder) => `/api/vaults/${enc(v)}/files${q({ path, recursive: folder ? 1 : '' })}`,
  trash: (v) => `/api/vaults/${enc(v)}/trash${q({ path: '/' })}`,
  undelete: (v) => `/api/vaults/${enc(v)}/undelete`,
  history: (v, path) => `/api/vaults/${enc(v)}/history${q({ path })}`,
  restore: (v) => `/api/vaults/${enc(v)}/restore`,
};

// join and parent work on the vault's paths, which start with "/".
export function join(dir, name) { return `${dir === '/' ? '' : dir}/${name}`; }
function parent(p) { const i = p.lastIndexOf('/'); return i <= 0 ? '/' : p.slice(0, i); }
function base(p) { return p.slice(p.lastIndexOf('/') + 1); }
function clean(p) { return `/${(p || '').split('/').filter(Boolean).join('/')}`; }

// userName is how a person of the verified organisation log is shown.
export function userName(u) {
  if (!u) return '';
  if (typeof u === 'string') return u;
  if (u.unknown) return tr('people.unknown', { id: u.id });
  return u.name || u.email || '';
}

// readEntry reads one listing entry (docs/API.md's file).
function readEntry(e, dir) {
  return {
    name: e.name ?? base(e.path || ''),
    path: e.path || join(dir, e.name),
    dir: e.kind === 'folder',
    size: e.size,
    modified: e.modified,
    author: userName(e.author),
    version: e.version,
  };
}

// localInput is a time as a datetime-local field holds it (local, seconds).
function localInput(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const hashFor = (vault, sub, params) => `#/vault/${enc(vault)}/${sub}${q(params)}`;

export async function filesScreen(app, vaultId, sub, params) {
  const vaults = await vaultList(app);
  const vault = vaults.find((v) => v.id === vaultId);
  if (!vault) {
    replace(app.main, h('h1', null, app.t('files.noVault')), h('p', null, h('a', { href: '#/vaults' }, app.t('files.backToVaults'))));
    return;
  }
  const canWrite = vault.canWrite;
  const ctx = { app, t: app.t, vault, canWrite };
  const tabs = h('nav', { class: 'toolbar', 'aria-label': app.t('files.views') },
    ['files', 'trash', 'sharing'].map((s) => h('a', {
      href: s === 'sharing' ? `#/vault/${enc(vaultId)}/sharing` : hashFor(vaultId, s, {}),
      class: 'button',
      'aria-current': (s === sub || (s === 'files' && sub === 'history')) ? 'page' : null,
    }, app.t(`files.tab.${s}`))));
  replace(app.main, h('h1', null, vault.name), tabs);
  if (sub === 'trash') return trashView(ctx);
  if (sub === 'history') return historyView(ctx, clean(params.get('path')));
  return listView(ctx, params);
}

function breadcrumb(ctx, dir, at) {
  const parts = dir.split('/').filter(Boolean);
  const items = [h('li', null, h('a', { href: hashFor(ctx.vault.id, 'files', { at }) }, ctx.vault.name))];
  parts.forEach((p, i) => {
    const path = `/${parts.slice(0, i + 1).join('/')}`;
    const last = i === parts.length - 1;
    items.push(h('li', null, last ? h('span', { 'aria-current': 'page' }, p) : h('a', { href: hashFor(ctx.vault.id, 'files', { path, at }) }, p)));
  });
  return h('nav', { class: 'breadcrumb', 'aria-label': ctx.t('files.breadcrumb') }, h('ol', null, items));
}

async function listView(ctx, params) {
  const { app, t, vault } = ctx;
  const dir = clean(params.get('path'));
  const at = params.get('at') || '';
  const sort = params.get('sort') || 'name';
  const order = params.get('order') || 'asc';
  const page = Math.max(0, Number(params.get('page') || 0));
  const canWrite = ctx.canWrite && !at;
  const go = (changes) => app.navigate(hashFor(vault.id, 'files', { path: dir === '/' ? '' : dir, at, sort, order, page, ...changes }));

  const r = await app.api.get(urls.list(vault.id, { path: dir, offset: page * pageSize, limit: pageSize, sort, order, at }));
  const entries = (r.items || []).map((e) => readEntry(e, dir));
  const total = r.total ?? entries.length;

  const preview = h('section', { class: 'preview', id: 'preview', 'aria-live': 'polite', hidden: true });
  const uploads = h('ul', { class: 'uploads', id: 'uploads', 'aria-label': t('files.uploads') });

  // as of: the vault as it was at a date, read-only
  const atInput = h('input', { type: 'datetime-local', step: 1, value: at ? localInput(at) : '' });
  const asOf = h('form', {
    class: 'inline-form',
    onsubmit: (e) => {
      e.preventDefault();
      if (!atInput.value) return go({ at: '', page: 0 });
      return go({ at: new Date(atInput.value).toISOString(), page: 0 });
    },
  }, field(t('files.asOf'), atInput), h('button', { type: 'submit' }, t('files.asOfShow')));

  const sortButton = (key) => {
    const activeSort = sort === key;
    return h('button', {
      type: 'button',
      class: 'sort',
      'aria-label': t('files.sortBy', { column: t(`files.col.${key}`) }),
      onclick: () => go({ sort: key, order: activeSort && order === 'asc' ? 'desc' : 'asc', page: 0 }),
    }, t(`files.col.${key}`), activeSort ? (order === 'asc' ? ' ▲' : ' ▼') : '');
  };
  const ariaSort = (key) => (sort === key ? (order === 'asc' ? 'ascending' : 'descending') : null);

  const rows = entries.map((e) => entryRow(ctx, e, { at, canWrite, preview, reload: () => app.render() }));
  const from = total === 0 ? 0 : page * pageSize + 1;
  const to = page * pageSize + entries.length;
  const pager = h('nav', { class: 'pager', 'aria-label': t('files.pages') },
    h('span', { id: 'count' }, t('files.count', { from, to, total })),
    page > 0 ? button(t('files.previous'), () => go({ page: page - 1 })) : null,
    to < total ? button(t('files.next'), () => go({ page: page + 1 })) : null);

  const toolbar = h('div', { class: 'toolbar' });
  if (canWrite) {
    const fileInput = h('input', { type: 'file', multiple: true, id: 'upload-files', class: 'sr-only' });
    fileInput.addEventListener('change', () => { startUploads(ctx, dir, [...fileInput.files].map((f) => ({ file: f, path: f.name })), uploads); fileInput.value = ''; });
    const folderInput = h('input', { type: 'file', multiple: true, id: 'upload-folder', class: 'sr-only', webkitdirectory: true });
    folderInput.addEventListener('change', () => { startUploads(ctx, dir, [...folderInput.files].map((f) => ({ file: f, path: f.webkitRelativePath || f.name })), uploads); folderInput.value = ''; });
    add(toolbar,
      fileInput, h('label', { for: 'upload-files', class: 'button primary-label' }, t('files.uploadFiles')),
      folderInput, h('label', { for: 'upload-folder', class: 'button' }, t('files.uploadFolder')),
      button(t('files.newFolder'), () => newFolder(ctx, dir, toolbar)));
    // labels are not focusable: let Enter and Space open the file chooser
    for (const l of toolbar.querySelectorAll('label.button')) {
      l.tabIndex = 0;
      l.setAttribute('role', 'button');
      l.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); l.click(); } });
    }
  }

  const table = h('table', { class: 'list', id: 'files' },
    h('caption', { class: 'sr-only' }, t('files.caption', { folder: dir })),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col', 'aria-sort': ariaSort('name') }, sortButton('name')),
      h('th', { scope: 'col', class: 'num', 'aria-sort': ariaSort('size') }, sortButton('size')),
      h('th', { scope: 'col', 'aria-sort': ariaSort('modified') }, sortButton('modified')),
      h('th', { scope: 'col' }, t('files.col.author')),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
    h('tbody', null, rows));

  const zone = h('section', { class: canWrite ? 'dropzone-area' : '', 'aria-label': t('files.listing') },
    canWrite ? h('p', { class: 'dropzone', id: 'dropzone' }, t('files.dropHere')) : null,
    entries.length ? table : h('p', { class: 'empty' }, at ? t('files.emptyThen') : t('files.empty')),
    pager);
  if (canWrite) dropTarget(ctx, zone, dir, uploads);

  add(app.main,
    at ? h('p', { class: 'notice', id: 'as-of' }, t('files.asOfBanner', { time: formatTime(at, app.lang) }), ' ',
      h('a', { href: hashFor(vault.id, 'files', { path: dir === '/' ? '' : dir }) }, t('files.backToNow'))) : null,
    !ctx.canWrite && !at ? h('p', { class: 'muted' }, vault.archived ? t('files.archivedReadOnly') : t('files.readOnly')) : null,
    breadcrumb(ctx, dir, at),
    toolbar, uploads, preview, zone,
    h('details', null, h('summary', null, t('files.asOfTitle')), asOf));
}

function entryRow(ctx, e, { at, canWrite, preview, reload }) {
  const { app, t, vault } = ctx;
  const nameCell = e.dir
    ? h('a', { href: hashFor(vault.id, 'files', { path: e.path, at }), class: 'entry-name dir' }, e.name)
    : h('button', { type: 'button', class: 'link entry-name', 'aria-label': t('files.previewOf', { name: e.name }), onclick: () => showPreview(ctx, preview, e.path, e.name, undefined, at || undefined) }, e.name);
  const actions = h('td', { class: 'row-actions' });
  const row = h('tr', { 'data-name': e.name },
    h('td', null, nameCell, e.dir ? h('span', { 'aria-hidden': 'true' }, '/') : null, e.dir ? h('span', { class: 'sr-only' }, ` (${t('files.folder')})`) : null),
    h('td', { class: 'num' }, e.dir ? '' : formatSize(e.size, app.lang)),
    h('td', null, formatTime(e.modified, app.lang)),
    h('td', null, e.author),
    actions);
  if (!e.dir) {
    add(actions,
      downloadLink(ctx, urls.content(vault.id, e.path, undefined, at || undefined), e.name, { class: 'button', 'aria-label': t('files.downloadOf', { name: e.name }) }),
      at ? null : h('a', { class: 'button', href: hashFor(vault.id, 'history', { path: e.path }), 'aria-label': t('files.historyOf', { name: e.name }) }, t('files.history')));
  }
  if (canWrite) {
    add(actions,
      button(t('files.rename'), () => renameEntry(ctx, e, row, reload), { 'aria-label': t('files.renameOf', { name: e.name }) }),
      button(t('files.move'), () => moveEntry(ctx, e, row, reload), { 'aria-label': t('files.moveOf', { name: e.name }) }),
      button(t('files.delete'), async () => {
        if (!await confirmDialog(t('files.confirmDelete', { name: e.name }), t('files.delete'), t('common.cancel'))) return;
        try {
          await app.api.del(urls.remove(vault.id, e.path, e.dir));
          app.notify(t('files.deleted', { name: e.name }));
          reload();
        } catch (err) { app.fail(err); }
      }, { class: 'danger', 'aria-label': t('files.deleteOf', { name: e.name }) }));
  }
  return row;
}

// downloadLink is a link that downloads a file through a single-use
// ticket (the download can't carry the token header).
function downloadLink(ctx, url, name, attrs = {}) {
  const { app, t } = ctx;
  return h('a', {
    ...attrs,
    href: url,
    onclick: (e) => {
      e.preventDefault();
      app.api.download(url, name).catch((err) => app.fail(err));
    },
  }, t('files.download'));
}

// showPreview shows a file in the page: an image in <img>, a PDF in a
// sandboxed frame, text in <pre> through textContent. The app decrypts and
// streams the bytes with Cache-Control: no-store; nothing is saved.
export async function showPreview(ctx, box, path, name, version, at) {
  const { app, t, vault } = ctx;
  const url = urls.preview(vault.id, path, version, at);
  // Close and Escape (from anywhere in the preview) hide it and give the
  // focus back to what opened it, so a keyboard user carries on from there.
  const opener = document.activeElement;
  const hide = () => {
    box.hidden = true;
    box.replaceChildren();
    if (opener && opener !== document.body && document.body.contains(opener)) opener.focus();
  };
  const close = button(t('common.close'), hide);
  box.onkeydown = (e) => { if (e.key === 'Escape' && !box.hidden) { e.preventDefault(); hide(); } };
  const title = h('h2', { id: 'preview-title' }, t('files.previewTitle', { name }));
  const ext = name.toLowerCase().split('.').pop();
  let body;
  if (['png', 'jpg', 'jpeg', 'gif', 'webp'].includes(ext)) {
    // an <img> or a frame can't carry the token header: a single-use
    // ticket opens the preview URL for them
    body = h('img', { alt: name });
    app.api.ticket(url).then((u) => { body.src = u; }, (err) => app.fail(err));
  } else if (ext === 'pdf') {
    // Chromium's PDF viewer does not start in a sandboxed frame; the app
    // answers a PDF with its own CSP (default-src 'none') and nosniff, so
    // it can never run as a page of this origin (docs/API.md).
    body = h('iframe', { title: name });
    app.api.ticket(url).then((u) => { body.src = u; }, (err) => app.fail(err));
  } else if (['txt', 'md', 'csv', 'log', 'json', 'xml', 'hl7', 'ini', 'yaml', 'yml', 'html', 'htm', 'xhtml', 'svg', 'js', 'css'].includes(ext)) {
    // the app answers these as text/plain: their source, in a <pre>
    body = h('pre', { tabindex: '0' }, t('common.loading'));
    app.api.text(url).then((s) => { body.textContent = s; }, (err) => { body.textContent = ''; app.fail(err); });
  } else {
    body = h('p', null, t('files.noPreview'), ' ', downloadLink(ctx, urls.content(vault.id, path, version, at), name));
  }
  replace(box, h('div', { class: 'toolbar' }, title, close), body);
  box.hidden = false;
  box.setAttribute('aria-labelledby', 'preview-title');
  close.focus();
}

async function newFolder(ctx, dir, toolbar) {
  const { app, t, vault } = ctx;
  const input = h('input', { type: 'text', required: true, autocomplete: 'off' });
  const form = h('form', {
    class: 'inline-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const name = input.value.trim();
      try {
        await app.api.post(urls.folders(vault.id), { path: join(dir, name) });
        app.notify(t('files.folderCreated', { name }));
        app.render();
      } catch (err) { app.fail(err); }
    },
  }, field(t('files.folderName'), input), h('button', { type: 'submit', class: 'primary' }, t('files.create')), button(t('common.cancel'), () => form.remove()));
  toolbar.after(form);
  input.focus();
}

function renameEntry(ctx, e, row, reload) {
  const { app, t, vault } = ctx;
  const input = h('input', { type: 'text', value: e.name, required: true, 'aria-label': t('files.newNameOf', { name: e.name }) });
  const cell = row.cells[0];
  replace(cell, h('form', {
    class: 'inline-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await app.api.post(urls.move(vault.id), { from: e.path, to: join(parent(e.path), input.value.trim()) });
        app.notify(t('files.renamed', { name: input.value.trim() }));
        reload();
      } catch (err) { app.fail(err); }
    },
  }, input, h('button', { type: 'submit' }, t('common.save')), button(t('common.cancel'), reload)));
  input.focus();
  input.select();
}

function moveEntry(ctx, e, row, reload) {
  const { app, t, vault } = ctx;
  const input = h('input', { type: 'text', value: parent(e.path), required: true, 'aria-label': t('files.moveTo', { name: e.name }) });
  replace(row.cells[0], h('form', {
    class: 'inline-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const to = join(clean(input.value), e.name);
      try {
        await app.api.post(urls.move(vault.id), { from: e.path, to });
        app.notify(t('files.moved', { name: e.name, to: clean(input.value) }));
        reload();
      } catch (err) { app.fail(err); }
    },
  }, input, h('button', { type: 'submit' }, t('files.move')), button(t('common.cancel'), reload)));
  input.focus();
}

// dropTarget accepts files and folders dropped anywhere on the listing.
function dropTarget(ctx, el, dir, list) {
  const zone = el.querySelector('#dropzone');
  let depth = 0;
  el.addEventListener('dragenter', (e) => { e.preventDefault(); depth++; zone.classList.add('over'); });
  el.addEventListener('dragover', (e) => { e.preventDefault(); if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'; });
  el.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; zone.classList.remove('over'); } });
  el.addEventListener('drop', async (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove('over');
    try {
      startUploads(ctx, dir, await droppedFiles(e.dataTransfer), list);
    } catch (err) { ctx.app.fail(err); }
  });
}

// droppedFiles walks what was dropped: files, and folders with everything
// in them (their relative paths kept).
async function droppedFiles(dt) {
  const out = [];
  const entries = [];
  for (const item of dt.items || []) {
    const entry = item.kind === 'file' && item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
    else if (item.kind === 'file') { const f = item.getAsFile(); if (f) out.push({ file: f, path: f.name }); }
  }
  if (!entries.length && !out.length) for (const f of dt.files || []) out.push({ file: f, path: f.name });
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, path: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const entry of entries) await walk(entry, '');
  return out;
}

// startUploads sends the files one after another, each with its progress
// bar and a Cancel button; folders in their paths are made first.
function startUploads(ctx, dir, items, list) {
  const { app, t, vault } = ctx;
  if (!items.length) return;
  const jobs = items.map(({ file, path }) => {
    const bar = h('progress', { max: file.size || 1, value: 0, 'aria-label': t('files.progressOf', { name: path }) });
    const state = h('span', { class: 'muted' }, t('files.waiting'));
    const job = { file, path: join(dir, path.split('/').filter(Boolean).join('/')), cancelled: false, handle: null, state, bar };
    const cancel = button(t('common.cancel'), () => {
      job.cancelled = true;
      if (job.handle) job.handle.abort();
      state.textContent = t('files.cancelled');
      cancel.disabled = true;
    }, { 'aria-label': t('files.cancelOf', { name: path }) });
    job.cancel = cancel;
    job.li = h('li', { 'data-upload': path }, h('span', null, path), bar, state, cancel);
    list.append(job.li);
    return job;
  });
  (async () => {
    let ok = 0;
    for (const job of jobs) {
      if (job.cancelled) continue;
      try {
        job.state.textContent = t('files.uploading');
        const send = (overwrite) => {
          job.handle = upload(urls.upload(vault.id, job.path, overwrite), job.file, (loaded, total) => {
            job.bar.max = total || 1;
            job.bar.value = loaded;
          });
          return job.handle.done;
        };
        try {
          await send(false);
        } catch (err) {
          // the name is taken: a new version of that file, if the person
          // wants it (the old one stays in the history)
          if (err.code !== 'exists' || job.cancelled) throw err;
          if (!await confirmDialog(t('files.replace', { name: job.path }), t('files.replaceOK'), t('common.cancel'), t('files.replaceDetail'))) {
            job.state.textContent = t('files.cancelled');
            job.cancel.disabled = true;
            continue;
          }
          await send(true);
        }
        job.state.textContent = t('files.uploaded');
        job.cancel.disabled = true;
        ok++;
      } catch (err) {
        if (err.name === 'AbortError') continue;
        job.state.textContent = ctx.app.t('files.failed');
        job.cancel.disabled = true;
        app.fail(err);
      }
    }
    if (ok) {
      app.notify(t('files.uploadedCount', { count: ok }));
      // show the new files, keeping the upload list on screen
      const keep = [...list.children];
      await app.render();
      const fresh = document.getElementById('uploads');
      if (fresh) fresh.replaceChildren(...keep);
    }
  })();
}

async function trashView(ctx) {
  const { app, t, vault } = ctx;
  const r = await app.api.get(urls.trash(vault.id));
  const entries = (r || []).map((e) => ({ path: e.path, name: base(e.path), by: userName(e.removedBy), at: e.removedAt }));
  const rows = entries.map((e) => h('tr', { 'data-name': e.name },
    h('td', null, e.path),
    h('td', null, formatTime(e.at, app.lang)),
    h('td', null, e.by),
    h('td', { class: 'row-actions' }, ctx.canWrite ? button(t('files.undelete'), async () => {
      try {
        await app.api.post(urls.undelete(vault.id), { path: e.path });
        app.notify(t('files.undeleted', { name: e.name }));
        app.render();
      } catch (err) { app.fail(err); }
    }, { 'aria-label': t('files.undeleteOf', { name: e.path }) }) : null)));
  add(app.main,
    h('h2', null, t('files.trashTitle')),
    rows.length ? h('table', { class: 'list', id: 'trash' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('files.col.path')),
        h('th', { scope: 'col' }, t('files.col.deleted')),
        h('th', { scope: 'col' }, t('files.col.author')),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
      h('tbody', null, rows)) : h('p', { class: 'empty' }, t('files.trashEmpty')));
}

async function historyView(ctx, path) {
  const { app, t, vault } = ctx;
  const r = await app.api.get(urls.history(vault.id, path));
  // oldest first from the API; newest first on screen
  const versions = (r || []).map((v) => ({
    version: v.version,
    time: v.time,
    author: userName(v.author),
    device: v.device || '',
    size: v.size,
  })).reverse();
  const preview = h('section', { class: 'preview', id: 'preview', hidden: true });
  const rows = versions.map((v, i) => h('tr', { 'data-version': String(v.version) },
    h('td', null, formatTime(v.time, app.lang)),
    h('td', null, v.author, v.device ? h('span', { class: 'muted' }, ` (${v.device})`) : null),
    h('td', { class: 'num' }, formatSize(v.size, app.lang)),
    h('td', { class: 'row-actions' },
      button(t('files.preview'), () => showPreview(ctx, preview, path, base(path), v.version),
        { 'aria-label': t('files.previewVersion', { time: formatTime(v.time, app.lang) }) }),
      downloadLink(ctx, urls.content(vault.id, path, v.version), base(path), { class: 'button' }),
      ctx.canWrite && i > 0 ? button(t('files.restore'), async () => {
        try {
          await app.api.post(urls.restore(vault.id), { path, version: v.version });
          app.notify(t('files.restored', { name: base(path), time: formatTime(v.time, app.lang) }));
          app.render();
        } catch (err) { app.fail(err); }
      }, { 'aria-label': t('files.restoreVersion', { time: formatTime(v.time, app.lang) }) }) : null)));
  add(app.main,
    breadcrumb(ctx, path, ''),
    h('h2', null, t('files.historyTitle', { name: base(path) })),
    preview,
    rows.length ? h('table', { class: 'list', id: 'history' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('files.col.time')),
        h('th', { scope: 'col' }, t('files.col.author')),
        h('th', { scope: 'col', class: 'num' }, t('files.col.size')),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
      h('tbody', null, rows)) : h('p', { class: 'empty' }, t('files.noHistory')),
    h('p', null, h('a', { href: hashFor(vault.id, 'files', { path: parent(path) === '/' ? '' : parent(path) }) }, t('files.backToFolder'))));
}
