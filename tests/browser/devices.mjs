// The devices page: Alice's two computers listed from the verified log
// (this one marked, the other with who enrolled it and no way to revoke
// this one), the laptop revoked after a confirmation that says what
// happens, and the page saying what was rotated; a recovery file exported
// (downloaded, its secret shown once); the same page in French.
import { statSync } from 'node:fs';
import { config, launch, person, step, done, assert, unlock, noProblems, watch, shot } from './lib.mjs';

const browser = await launch();
const alice = (await person(browser, config.admin.url)).page;
watch(alice);
const laptop = config.laptopLabel;

await step('Alice opens Devices: this computer and the laptop, listed from the log', async () => {
  await alice.locator('#lock-title').waitFor();
  await unlock(alice, config.admin.passphrase);
  await alice.getByRole('link', { name: 'Devices' }).click();
  await alice.getByRole('heading', { name: 'Your devices' }).waitFor();
  const rows = alice.locator('#devices tbody tr');
  assert(await rows.count() === 2, `two devices, got ${await rows.count()}`);
  const mine = rows.filter({ hasText: 'this device' });
  assert(await mine.count() === 1, 'this device is marked');
  assert(/Active/.test(await mine.innerText()), 'this device is active');
  assert(await mine.getByRole('button').count() === 0, 'this device has no revoke button');
  const other = rows.filter({ hasText: laptop });
  assert(await other.count() === 1, 'the laptop is listed by its label, as text');
  assert(/by alice@example\.org/.test(await other.innerText()), 'who enrolled the laptop is said');
  assert(await alice.locator('#devices b').count() === 0, 'the label made no element');
  // The way to add a device is on the page.
  await alice.getByRole('button', { name: 'Create a link for another computer' }).waitFor();
});

await step('revoking the laptop asks first, saying what happens; cancelling changes nothing', async () => {
  await alice.getByRole('button', { name: `Revoke the device ${laptop}` }).click();
  const dialog = alice.getByRole('dialog');
  const said = await dialog.innerText();
  assert(/server refuses it at once/.test(said) && /keys/.test(said) && /erases its copies/.test(said), `the confirmation says what happens: ${said}`);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert(/Active/.test(await alice.locator('#devices tbody tr', { hasText: laptop }).innerText()), 'still active after cancel');
});

await step('confirmed (from the keyboard): the page says what was revoked and rotated', async () => {
  await alice.getByRole('button', { name: `Revoke the device ${laptop}` }).focus();
  await alice.keyboard.press('Enter');
  const dialog = alice.getByRole('dialog');
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  const result = alice.locator('#revocation');
  await result.getByRole('heading', { name: `${laptop} is revoked` }).waitFor({ timeout: 60_000 });
  const text = await result.innerText();
  assert(/Your user keys were replaced/.test(text), `user keys rotated: ${text}`);
  assert(new RegExp(`Keys replaced now for the vaults: ${config.vault}`).test(text), `the vault rotated: ${text}`);
  assert(/erases its copies/.test(text), 'the wipe on return is said');
  const row = alice.locator('#devices tbody tr', { hasText: laptop });
  assert(/Revoked on .* by alice@example\.org/.test(await row.innerText()), 'the row says revoked, when and by whom');
  assert(await row.getByRole('button').count() === 0, 'no revoke button on a revoked device');
  await shot(alice, 'devices');
  noProblems(alice);
});

await step('a recovery file: downloaded from memory, the secret shown once in six groups, hidden once written down', async () => {
  await alice.getByRole('button', { name: 'Create a recovery file' }).click();
  const dialog = alice.getByRole('dialog');
  assert(/shown only once/.test(await dialog.innerText()), 'the confirmation says the secret is shown once');
  await dialog.getByRole('button', { name: 'Create a recovery file' }).click();
  const link = alice.getByRole('link', { name: 'Download the recovery file' });
  await link.waitFor({ timeout: 60_000 });
  const [download] = await Promise.all([alice.waitForEvent('download'), link.click()]);
  assert(/^coffre-recovery-\d{4}-\d{2}-\d{2}\.age$/.test(download.suggestedFilename()), `file name ${download.suggestedFilename()}`);
  const size = statSync(await download.path()).size;
  assert(size > 100, `the file holds ${size} bytes`);
  const groups = await alice.locator('#recovery-secret .group').allInnerTexts();
  assert(groups.length === 6 && groups.every((g) => /^[A-Z2-7]{5}$/.test(g)), `six groups of five: ${groups}`);
  const finish = alice.getByRole('button', { name: 'Done: hide the secret' });
  assert(await finish.isDisabled(), 'done waits for "I wrote it down"');
  await alice.getByLabel('I saved the file and wrote the secret down').focus();
  await alice.keyboard.press('Space');
  await finish.click();
  await alice.locator('#recovery-secret').waitFor({ state: 'detached' });
  await alice.locator('#devices tbody tr', { hasText: 'recovery ' }).waitFor();
  assert(await alice.locator('#devices tbody tr').count() === 3, 'the recovery device is listed');
  noProblems(alice);
});

await step('an administrator opens another person\'s devices from People: listed, no recovery or add section', async () => {
  await alice.getByRole('link', { name: 'People' }).click();
  await alice.getByRole('link', { name: 'Devices of Bob Durand' }).click();
  await alice.getByRole('heading', { name: 'Devices of Bob Durand' }).waitFor();
  assert(await alice.locator('#devices tbody tr').count() === 1, 'Bob has one device');
  assert(await alice.locator('#devices').getByRole('button', { name: /^Revoke the device/ }).count() === 1, 'the admin may revoke it');
  assert(await alice.getByRole('button', { name: 'Create a recovery file' }).count() === 0, 'no recovery file for someone else');
  assert(await alice.getByRole('button', { name: 'Create a link for another computer' }).count() === 0, 'no device link for someone else');
  await alice.getByRole('link', { name: 'Devices', exact: true }).click();
  await alice.getByRole('heading', { name: 'Your devices' }).waitFor();
  noProblems(alice);
});

await step('the page in French', async () => {
  await alice.locator('#lang').selectOption('fr');
  await alice.getByRole('heading', { name: 'Vos appareils' }).waitFor();
  const text = await alice.locator('#devices').innerText();
  assert(/cet appareil/.test(text) && /Révoqué le/.test(text), `French marks: ${text}`);
  noProblems(alice);
});

await browser.close();
done();
