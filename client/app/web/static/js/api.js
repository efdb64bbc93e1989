// The app's JSON API (docs/API.md), as the interface calls it. Every
// request carries the session's token in X-Coffre-CSRF besides the
// HttpOnly cookie the browser sends: browsers share cookies between ports,
// so the cookie alone opens nothing (SPEC §14.3, SECURITY A71).

const csrfHeader = 'X-Coffre-CSRF';
const csrfKey = 'coffre.csrf';

// The login link's redirect brings the token in the fragment (/#k=…),
// which the browser sends to no server. The page keeps it in its origin's
// storage, scoped by port unlike cookies (a reload or another tab of the
// interface finds it there), and takes it out of the address and the
// history at once.
let given = '';
const fragment = /^#k=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
if (fragment) {
  given = fragment[1];
  try { localStorage.setItem(csrfKey, given); } catch { /* storage refused: this page only */ }
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

// token is read at each call: a login in another tab of this browser
// replaces the cookie and the stored token together.
function token() {
  try { return localStorage.getItem(csrfKey) || given; } catch { return given; }
}

// ApiError is a failed call: code is the API's stable error code (the
// interface translates it), message its English sentence.
export class ApiError extends Error {
  constructor(status, code, message, params) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || (status === 0 ? 'network' : 'internal');
    this.params = params;
  }
}

// listeners of a locked answer (423): the interface shows the lock screen.
const lockedListeners = [];
export function onLocked(fn) { lockedListeners.push(fn); }

async function failure(r) {
  let body = {};
  try { body = await r.json(); } catch { /* not JSON: keep the status */ }
  const err = new ApiError(r.status, body.code, body.message || body.error, body);
  const retry = Number(r.headers.get('Retry-After'));
  if (retry > 0) err.retryAfter = retry;
  if (r.status === 423 || err.code === 'locked' || err.code === 'device_revoked') lockedListeners.forEach((fn) => fn(err));
  return err;
}

// call sends one request and returns the decoded JSON answer (or null).
export async function call(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.poll) headers['X-Coffre-Poll'] = '1';
  headers[csrfHeader] = token();
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', e.message);
  }
  if (!r.ok) throw await failure(r);
  if (r.status === 204) return null;
  const type = r.headers.get('Content-Type') || '';
  if (!type.includes('json')) return null;
  return r.json();
}

export const get = (path, opts) => call('GET', path, undefined, opts);
// poll is a GET the interface makes by itself (a refresh, a progress): the
// app does not count it as the person's activity, so it does not keep the
// idle lock away (SPEC §14.2).
export const poll = (path, opts) => call('GET', path, undefined, { ...opts, poll: true });
export const post = (path, body, opts) => call('POST', path, body ?? {}, opts);
export const put = (path, body, opts) => call('PUT', path, body ?? {}, opts);
export const patch = (path, body, opts) => call('PATCH', path, body ?? {}, opts);
export const del = (path, body, opts) => call('DELETE', path, body, opts);

// text fetches a text resource (a preview) and returns its body.
export async function text(path) {
  let r;
  try {
    r = await fetch(path, { headers: { [csrfHeader]: token() }, credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  if (!r.ok) throw await failure(r);
  return r.text();
}

// session checks that this page is logged in: the cookie the login link
// set and the token it brought (401 login, 403 csrf otherwise).
export async function session() {
  return (await get('/api/session')) || {};
}

// ticket returns a single-use address, valid a minute, that opens a file
// URL of the API (a download, a preview) for a navigation, an <img> or a
// frame: they can't carry the token header.
export async function ticket(path) {
  const r = await post('/api/tickets', { url: path });
  return r.url;
}

// download saves a file through a ticket: the browser's own download, the
// bytes never in the page.
export async function download(path, name) {
  const url = await ticket(path);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
}

// upload sends one file's bytes with XMLHttpRequest, whose upload events
// give the progress that fetch does not; abort() cancels it.
export function upload(path, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open('PUT', path);
    xhr.setRequestHeader(csrfHeader, token());
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
        return;
      }
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* keep the status */ }
      const err = new ApiError(xhr.status, body.code, body.message, body);
      if (xhr.status === 423 || err.code === 'device_revoked') lockedListeners.forEach((fn) => fn(err));
      reject(err);
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload failed'));
    xhr.onabort = () => { const e = new Error('cancelled'); e.name = 'AbortError'; reject(e); };
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}

// q builds a query string from params, leaving out empty values.
export function q(params) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  }
  const str = s.toString();
  return str ? `?${str}` : '';
}

export const enc = encodeURIComponent;
