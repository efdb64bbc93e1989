// The idle lock: with a short --lock-after the app forgets its keys when
// nobody uses it, the interface shows the lock screen by itself, and the
// passphrase brings back the screen the person was on.
import { config, launch, person, step, done, assert, unlock, noProblems, watch } from './lib.mjs';

const browser = await launch();
const { page } = await person(browser, config.admin.url);
watch(page);

await step('unlock and open a vault', async () => {
  await page.locator('#lock-title').waitFor();
  await unlock(page, config.admin.passphrase);
  await page.getByLabel('Name of the new vault').fill('Urgences');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('#vaults a.vault-link', { hasText: 'Urgences' }).click();
  await page.getByRole('heading', { name: 'Urgences' }).waitFor();
});

let where;
await step('left alone, the interface shows the lock screen', async () => {
  where = page.url();
  const start = Date.now();
  // the idle delay, then the interface's next look at the app's state
  await page.locator('#lock-title').waitFor({ timeout: config.lockAfterMs + 20_000 });
  const waited = Date.now() - start;
  assert(waited >= config.lockAfterMs - 1000, `locked after ${waited} ms, not before the idle delay (${config.lockAfterMs} ms)`);
  const state = await page.evaluate(async () => (await fetch('/api/state', { headers: { 'X-Coffre-CSRF': localStorage.getItem('coffre.csrf') || '' } })).json());
  assert(state.locked === true, 'the app says it is locked');
  const vaults = await page.evaluate(async () => (await fetch('/api/vaults', { headers: { 'X-Coffre-CSRF': localStorage.getItem('coffre.csrf') || '' } })).status);
  assert(vaults === 423, `a call that needs the keys is refused while locked (${vaults})`);
});

await step('the passphrase brings back the same screen', async () => {
  await unlock(page, config.admin.passphrase);
  await page.getByRole('heading', { name: 'Urgences' }).waitFor();
  assert(page.url() === where, `back at ${where}, not ${page.url()}`);
  noProblems(page);
});

await browser.close();
done();
