// One person's files: a folder of hundreds of entries in pages and sorted,
// upload by button, by drag-and-drop (files) and a whole folder, cancel an
// upload, preview (text and image) and download, new folder, rename, move,
// delete, trash and undelete, a new version, history and restore, and the
// vault as of a date.
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { config, launch, person, step, done, shot, assert, unlock, noProblems, watch } from './lib.mjs';

// minimalPDF is a one-page PDF saying text, its cross-reference table
// pointing at each object's byte offset.
function minimalPDF(text) {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null, // the content stream, below
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const stream = `BT /F1 18 Tf 20 70 Td (${text}) Tj ET`;
  objects[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let out = '%PDF-1.4\n';
  const offsets = objects.map((body, i) => {
    const at = out.length;
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return at;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

// a 2×2 PNG, red
const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');

const browser = await launch();
const { page } = await person(browser, config.admin.url);
watch(page);
const row = (name) => page.locator(`#files tr[data-name="${name}"]`);

await step('unlock and open the vault', async () => {
  await page.locator('#lock-title').waitFor();
  await unlock(page, config.admin.passphrase);
  await page.locator('#vaults a.vault-link', { hasText: config.vault }).click();
  await page.getByRole('heading', { name: config.vault }).waitFor();
});

await step(`a folder of ${config.bigCount} files is shown a page at a time`, async () => {
  await page.getByRole('link', { name: 'serie', exact: true }).click();
  await page.locator('#count', { hasText: `1–100 of ${config.bigCount}` }).waitFor();
  assert(await page.locator('#files tbody tr').count() === 100, 'one page of 100 rows');
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.locator('#count', { hasText: `101–200 of ${config.bigCount}` }).waitFor();
  await page.getByRole('button', { name: 'Sort by Name' }).click(); // already by name: now descending
  await page.locator('#count', { hasText: `1–100 of ${config.bigCount}` }).waitFor();
  const first = await page.locator('#files tbody tr').first().getAttribute('data-name');
  assert(first === `scan-${String(config.bigCount - 1).padStart(4, '0')}.txt`, `descending order starts with the last file, not ${first}`);
  await page.locator('.breadcrumb a', { hasText: config.vault }).click();
  await page.locator('#files tr[data-name="serie"]').waitFor();
});

await step('upload a file with the button', async () => {
  await page.locator('#upload-files').setInputFiles({ name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('version one') });
  await row('note.txt').waitFor();
  assert(await page.locator('#uploads li[data-upload="note.txt"] progress').evaluate((p) => p.value === p.max), 'its progress bar is full');
});

await step('drop two files on the listing', async () => {
  const dt = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(['first dropped'], 'dropped-1.txt', { type: 'text/plain' }));
    d.items.add(new File(['second dropped'], 'dropped-2.txt', { type: 'text/plain' }));
    return d;
  });
  await page.dispatchEvent('#dropzone', 'dragenter', { dataTransfer: dt });
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
  await row('dropped-1.txt').waitFor();
  await row('dropped-2.txt').waitFor();
});

await step('upload a whole folder, with its sub-folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffre-folder-'));
  mkdirSync(join(dir, 'Examens', 'IRM'), { recursive: true });
  writeFileSync(join(dir, 'Examens', 'bilan.txt'), 'bilan');
  writeFileSync(join(dir, 'Examens', 'IRM', 'irm.txt'), 'irm');
  await page.locator('#upload-folder').setInputFiles(join(dir, 'Examens'));
  await row('Examens').waitFor();
  await page.getByRole('link', { name: 'Examens', exact: true }).click();
  await row('bilan.txt').waitFor();
  await row('IRM').waitFor();
  await page.locator('.breadcrumb a', { hasText: config.vault }).click();
  await row('note.txt').waitFor();
});

await step('cancel an upload: the file is not added', async () => {
  // a slow network (1 MB/s up) so that the upload is still under way
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1 << 20 });
  const file = join(mkdtempSync(join(tmpdir(), 'coffre-big-')), 'big.bin');
  writeFileSync(file, Buffer.alloc(8 << 20, 7));
  await page.locator('#upload-files').setInputFiles(file);
  await page.waitForFunction(() => { const p = document.querySelector('#uploads li[data-upload="big.bin"] progress'); return p && p.value > 0; });
  await page.getByRole('button', { name: 'Cancel the upload of big.bin' }).click();
  await page.locator('#uploads li[data-upload="big.bin"]', { hasText: 'cancelled' }).waitFor();
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await cdp.detach();
  await page.reload();
  await row('note.txt').waitFor();
  assert(await row('big.bin').count() === 0, 'a cancelled upload leaves nothing');
});

await step('preview a text file and an image in the page; download a file', async () => {
  await page.locator('#upload-files').setInputFiles({ name: 'scan.png', mimeType: 'image/png', buffer: png });
  await row('scan.png').waitFor();
  await page.getByRole('button', { name: 'Preview note.txt' }).click();
  await page.locator('#preview pre', { hasText: 'version one' }).waitFor();
  await page.getByRole('button', { name: 'Preview scan.png' }).click();
  const img = page.locator('#preview img');
  await img.waitFor();
  await page.waitForFunction(() => { const i = document.querySelector('#preview img'); return i && i.complete && i.naturalWidth === 2; });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download note.txt' }).click()]);
  const got = readFileSync(await download.path(), 'utf8');
  assert(got === 'version one', `downloaded ${JSON.stringify(got)}`);
  await shot(page, 'files');
});

await step('new folder, rename, move into it', async () => {
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.getByLabel('Name of the new folder').fill('Comptes rendus');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await row('Comptes rendus').waitFor();
  await page.getByRole('button', { name: 'Rename dropped-1.txt' }).click();
  const input = page.getByRole('textbox', { name: 'New name of dropped-1.txt' });
  await input.fill('cr-urgences.txt');
  await input.press('Enter');
  await row('cr-urgences.txt').waitFor();
  await page.getByRole('button', { name: 'Move cr-urgences.txt' }).click();
  const to = page.getByRole('textbox', { name: 'Folder to move cr-urgences.txt to' });
  await to.fill('/Comptes rendus');
  await to.press('Enter');
  await row('cr-urgences.txt').waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'Comptes rendus', exact: true }).click();
  await row('cr-urgences.txt').waitFor();
  await page.locator('.breadcrumb a', { hasText: config.vault }).click();
  await row('note.txt').waitFor();
});

await step('delete to the trash, then bring it back', async () => {
  await page.getByRole('button', { name: 'Delete dropped-2.txt' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await row('dropped-2.txt').waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'Trash' }).click();
  const trashed = page.locator('#trash tr[data-name="dropped-2.txt"]');
  await trashed.waitFor();
  await page.getByRole('button', { name: 'Bring back /dropped-2.txt' }).click();
  await trashed.waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'Files' }).click();
  await row('dropped-2.txt').waitFor();
});

let before;
await step('a second version, its history with author, and restore the first', async () => {
  before = await page.evaluate(() => new Date().toISOString());
  await page.waitForTimeout(1500);
  await page.locator('#upload-files').setInputFiles({ name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('version two') });
  await page.getByRole('dialog').getByRole('button', { name: 'Replace' }).click();
  await page.locator('#uploads li[data-upload="note.txt"]', { hasText: 'uploaded' }).last().waitFor();
  await page.getByRole('link', { name: 'History of note.txt' }).click();
  await page.locator('#history tbody tr').nth(1).waitFor();
  const rows = await page.locator('#history tbody tr').allInnerTexts();
  assert(rows.length === 2, `two versions: ${JSON.stringify(rows)}`);
  assert(rows.every((r) => r.includes(config.admin.displayName)), `each names its author: ${JSON.stringify(rows)}`);
  await shot(page, 'history');
  await page.locator('#history tbody tr').nth(1).getByRole('button', { name: /^Restore/ }).click();
  await page.locator('#history tbody tr').nth(2).waitFor();
  await page.locator('#history tbody tr').first().getByRole('button', { name: /^Preview/ }).click();
  await page.locator('#preview pre', { hasText: 'version one' }).waitFor();
});

await step('the vault as of a date shows what it held then', async () => {
  await page.getByRole('link', { name: 'Back to the folder' }).click();
  await row('note.txt').waitFor();
  await page.locator('summary', { hasText: 'See the vault as it was at a date' }).click();
  const local = await page.evaluate((iso) => {
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }, before);
  await page.getByLabel('Date and time').fill(local);
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.locator('#as-of').waitFor();
  assert(await page.getByRole('button', { name: 'Upload files' }).count() === 0, 'read only: no upload');
  await page.getByRole('button', { name: 'Preview note.txt' }).click();
  await page.locator('#preview pre', { hasText: 'version one' }).waitFor();
});

await step('at 200% zoom (640 CSS pixels wide) every screen wraps: nothing scrolls sideways', async () => {
  await page.setViewportSize({ width: 640, height: 400 });
  for (const link of ['Back to now', 'History of note.txt', 'Trash', 'Sharing', 'Vaults']) {
    await page.getByRole('link', { name: link, exact: true }).first().click();
    await page.waitForLoadState('networkidle');
    const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert(scroll <= client, `after ${link}: the page is ${scroll} px wide in a ${client} px window`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  noProblems(page);
});

// Last: Chromium's PDF viewer takes the response's stream over, and the
// page's network never looks idle to Playwright again (waitForLoadState).
await step('preview a PDF: the viewer gets the bytes through a single-use ticket, nothing cached or saved', async () => {
  await page.locator('#vaults a.vault-link', { hasText: config.vault }).click();
  await page.getByRole('heading', { name: config.vault }).waitFor();
  const pdf = minimalPDF('Compte rendu');
  await page.locator('#upload-files').setInputFiles({ name: 'compte-rendu.pdf', mimeType: 'application/pdf', buffer: pdf });
  await row('compte-rendu.pdf').waitFor();
  const tickets = [];
  const seen = (r) => { if (new URL(r.url()).pathname.startsWith('/dl/')) tickets.push(r); };
  page.on('response', seen);
  const [answer] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname.startsWith('/dl/')),
    page.getByRole('button', { name: 'Preview compte-rendu.pdf' }).click(),
  ]);
  const frame = page.locator('#preview iframe[title="compte-rendu.pdf"]');
  await frame.waitFor();
  assert(await frame.isVisible(), 'the preview shows the PDF\'s frame');
  assert((await frame.getAttribute('src')).startsWith('/dl/'), 'the frame opens a ticket, not the API');
  const h = answer.headers();
  assert(answer.status() === 200, `the ticket answered ${answer.status()}`);
  assert(h['content-type'] === 'application/pdf', `Content-Type ${h['content-type']}`);
  assert(h['cache-control'] === 'no-store', `Cache-Control ${h['cache-control']}`);
  assert(h['x-content-type-options'] === 'nosniff', `X-Content-Type-Options ${h['x-content-type-options']}`);
  assert((h['content-disposition'] || '').startsWith('inline'), `Content-Disposition ${h['content-disposition']}: shown, not saved`);
  assert(Number(h['content-length']) === pdf.length, `Content-Length ${h['content-length']}, the PDF has ${pdf.length} bytes`);
  page.off('response', seen);
  assert(tickets.length === 1 && tickets[0].status() === 200, `the viewer opened its ticket once: ${tickets.map((r) => r.status())}`);
  // The ticket is spent: opened again (by the page, or anyone who saw it), it gives nothing.
  const again = await page.evaluate(async (u) => (await fetch(u)).status, await frame.getAttribute('src'));
  assert(again === 403, `a used ticket answered ${again}`);
  await page.locator('#preview').getByRole('button', { name: 'Close' }).click();
  noProblems(page);
});

await browser.close();
done();
