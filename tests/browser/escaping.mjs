// Names are data, never markup: a vault and files named like HTML show as
// text, their preview shows the source, and nothing they say runs (no
// dialog opens, no element is made from them).
import { config, launch, person, step, done, shot, assert, unlock, noProblems, watch } from './lib.mjs';

const evil = '<img src=x onerror=alert(1)>';
const browser = await launch();
const { page } = await person(browser, config.admin.url);
watch(page);

await step('unlock', async () => {
  await page.locator('#lock-title').waitFor();
  await unlock(page, config.admin.passphrase);
});

await step('a vault named like HTML is listed as text', async () => {
  await page.getByLabel('Name of the new vault').fill(evil);
  await page.getByRole('button', { name: 'Create' }).click();
  const link = page.locator('#vaults a.vault-link', { hasText: evil });
  await link.waitFor();
  assert(await link.textContent() === evil, 'the name is shown as it is');
  assert(await page.locator('#vaults img').count() === 0, 'no <img> made from the name');
});

await step('files named like HTML are listed as text', async () => {
  await page.locator('#vaults a.vault-link', { hasText: evil }).click();
  await page.locator('#upload-files').setInputFiles([
    { name: `${evil}.txt`, mimeType: 'text/plain', buffer: Buffer.from('harmless') },
    { name: 'page.html', mimeType: 'text/html', buffer: Buffer.from('<script>alert(2)</script><b>bold</b>') },
  ]);
  await page.locator('#files tr', { hasText: `${evil}.txt` }).waitFor();
  await page.locator('#files tr', { hasText: 'page.html' }).waitFor();
  assert(await page.locator('#files img').count() === 0, 'no <img> made from a name');
  assert(await page.locator('h1').textContent() === evil, 'the vault name in the title is text');
});

await step('an HTML file previews as its source, not as a page', async () => {
  await page.getByRole('button', { name: 'Preview page.html' }).click();
  const pre = page.locator('#preview pre');
  await pre.filter({ hasText: '<script>' }).waitFor();
  assert((await pre.textContent()).includes('<script>alert(2)</script>'), 'the source is shown');
  assert(await page.locator('#preview b').count() === 0, 'no element made from the file');
  await shot(page, 'escaping');
});

await step('no dialog opened and no script error', async () => {
  await page.waitForTimeout(500);
  noProblems(page);
});

await browser.close();
done();
