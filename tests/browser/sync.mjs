// The sync screen against the app's real sync service: keep a folder of
// this computer in sync with a vault, see it become up to date, a file
// written into the folder on disk appears in the vault's list in the
// page, pause says "Paused" (and a file written then stays local), resume
// brings it over.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config, launch, person, step, done, shot, assert, unlock, noProblems, watch } from './lib.mjs';

const browser = await launch();
const { page } = await person(browser, config.admin.url);
watch(page);
const folder = page.locator(`#folders li[data-folder="${config.dir}"]`);
const state = folder.locator('.sync-state');

// inVault opens the vault's files and waits for name to be listed,
// reloading the list until the sync has sent it.
async function inVault(name, within) {
  const deadline = Date.now() + within;
  for (;;) {
    await page.goto(config.admin.url.replace(/\/[^/]*$/, '/') + '#/vaults');
    await page.locator('#vaults a.vault-link', { hasText: config.vault }).click();
    await page.getByRole('heading', { name: config.vault }).waitFor();
    await page.locator('#files, .empty').first().waitFor();
    if (await page.locator(`#files tr[data-name="${name}"]`).count() > 0) return true;
    if (Date.now() > deadline) return false;
    await page.waitForTimeout(1000);
  }
}

async function openSync() {
  await page.getByRole('navigation').getByRole('link', { name: 'Sync' }).click();
  await page.getByRole('heading', { name: 'Sync', level: 1 }).waitFor();
}

await step('unlock; no folder is kept in sync yet', async () => {
  await page.locator('#lock-title').waitFor();
  await unlock(page, config.admin.passphrase);
  await openSync();
  await page.getByText('No folder of this computer is kept in sync yet.').waitFor();
});

await step('keep a folder in sync with the vault: it becomes up to date', async () => {
  await page.getByLabel('Vault', { exact: true }).selectOption({ label: config.vault });
  await page.getByLabel('Folder on this computer').fill(config.dir);
  await page.getByRole('button', { name: 'Keep in sync' }).click();
  await page.getByText(`${config.dir} is now kept in sync.`).waitFor();
  await folder.waitFor();
  assert((await folder.innerText()).includes(`Vault: ${config.vault}`), 'the folder says its vault');
  // the screen refreshes itself: no reload
  await state.filter({ hasText: 'Up to date' }).waitFor({ timeout: 60_000 });
  await shot(page, 'sync');
});

await step('a file written into the folder appears in the vault in the page', async () => {
  writeFileSync(join(config.dir, 'compte-rendu.txt'), 'written on disk\n');
  assert(await inVault('compte-rendu.txt', 60_000), 'compte-rendu.txt reached the vault');
});

await step('pause: the folder says Paused, and a file written now stays on this computer', async () => {
  await openSync();
  await state.filter({ hasText: 'Up to date' }).waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: `Pause the sync of ${config.dir}` }).click();
  await state.filter({ hasText: 'Paused' }).waitFor();
  const api = await page.evaluate(async () => (await fetch('/api/sync', { headers: { 'X-Coffre-CSRF': localStorage.getItem('coffre.csrf') || '' } })).json());
  assert(api.length === 1 && api[0].state === 'paused', `the app says paused: ${JSON.stringify(api)}`);
  writeFileSync(join(config.dir, 'pendant-la-pause.txt'), 'written while paused\n');
  // longer than the sync's settle and debounce delays
  assert(!(await inVault('pendant-la-pause.txt', 6_000)), 'a paused folder sent nothing');
});

await step('resume: the folder syncs again and the file reaches the vault', async () => {
  await openSync();
  await state.filter({ hasText: 'Paused' }).waitFor();
  await page.getByRole('button', { name: `Resume the sync of ${config.dir}` }).click();
  await page.getByRole('button', { name: `Pause the sync of ${config.dir}` }).waitFor();
  await state.filter({ hasNotText: 'Paused' }).waitFor();
  assert(await inVault('pendant-la-pause.txt', 60_000), 'pendant-la-pause.txt reached the vault after resume');
  await openSync();
  await state.filter({ hasText: 'Up to date' }).waitFor({ timeout: 60_000 });
  noProblems(page);
});

await browser.close();
done();
