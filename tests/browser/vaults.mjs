// The lock screen and the vault list: unlock, create, rename, archive, the
// lock button, a wrong passphrase, the last connection after unlock, and
// the language switch (remembered).
import { config, launch, person, step, done, shot, assert, unlock, noProblems, watch } from './lib.mjs';

const browser = await launch();
const { page } = await person(browser, config.admin.url);
watch(page);

await step('the app opens on the lock screen', async () => {
  await page.locator('#lock-title').waitFor();
  assert(await page.getByLabel('Passphrase').isVisible(), 'the passphrase field is labelled');
  await shot(page, 'lock');
});

await step('the login link works once: a second browser gets the login page, no interface', async () => {
  const other = await person(browser, config.admin.url);
  const text = await other.page.locator('body').innerText();
  assert(/used already/.test(text), `the second use is refused: ${text}`);
  assert(await other.page.locator('#lock-title').count() === 0, 'no interface');
  const api = await other.page.evaluate(async () => (await fetch('/api/state')).status);
  assert(api === 401, `no API without the session cookie (${api})`);
  await other.context.close();
});

await step('a wrong passphrase says so and keeps the lock screen', async () => {
  await page.getByLabel('Passphrase').fill('not the passphrase');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await page.locator('#unlock-error').filter({ hasText: /wrong|passphrase/i }).waitFor();
  assert(await page.locator('#lock-title').isVisible(), 'still locked');
});

await step('the passphrase unlocks, and the last connection is shown', async () => {
  // after a wrong passphrase the app hears the next try only after 1 s
  await page.waitForTimeout(1200);
  await unlock(page, config.admin.passphrase);
  await page.getByRole('heading', { name: 'Vaults' }).waitFor();
  const last = await page.locator('#last-connection').innerText();
  assert(/connection/i.test(last), `last connection shown: ${last}`);
});

await step('create a vault: listed with the role owner and 1 member', async () => {
  await page.getByLabel('Name of the new vault').fill('Cardiologie');
  await page.getByRole('button', { name: 'Create' }).click();
  const row = page.locator('#vaults tr', { hasText: 'Cardiologie' });
  await row.waitFor();
  const text = await row.innerText();
  assert(/owner/.test(text) && /\b1\b/.test(text), `row says owner and 1 member: ${text}`);
});

await step('rename a vault', async () => {
  await page.getByRole('button', { name: 'Rename Cardiologie' }).click();
  const input = page.getByRole('textbox', { name: 'Rename Cardiologie' });
  await input.fill('Cardiologie - dossiers');
  await input.press('Enter');
  await page.locator('#vaults tr', { hasText: 'Cardiologie - dossiers' }).waitFor();
});

await step('archive a vault, after confirming; it leaves the list and comes back', async () => {
  await page.getByLabel('Name of the new vault').fill('Ancien service');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('#vaults tr', { hasText: 'Ancien service' }).waitFor();
  await page.getByRole('button', { name: 'Archive Ancien service' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Archive' }).click();
  await page.locator('#vaults tr', { hasText: 'Ancien service' }).waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'Show archived vaults' }).click();
  const row = page.locator('#vaults tr', { hasText: 'Ancien service' });
  await row.waitFor();
  assert(/archived/.test(await row.innerText()), 'shown as archived');
  await page.getByRole('link', { name: 'Hide archived vaults' }).click();
  await shot(page, 'vaults');
});

await step('the language switches to French and stays so after a reload', async () => {
  await page.getByLabel('Language').selectOption('fr');
  await page.getByRole('heading', { name: 'Coffres' }).waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Coffres' }).waitFor();
  await page.getByLabel('Langue').selectOption('en');
  await page.getByRole('heading', { name: 'Vaults' }).waitFor();
});

await step('the Lock button locks; the lock screen comes back', async () => {
  await page.getByRole('button', { name: 'Lock', exact: true }).click();
  await page.locator('#lock-title').waitFor();
  await unlock(page, config.admin.passphrase);
  await page.locator('#vaults tr', { hasText: 'Cardiologie - dossiers' }).waitFor();
  noProblems(page);
});

await browser.close();
done();
