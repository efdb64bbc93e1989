// The devices page: Alice's two computers listed from the verified log
// (this one marked, the other with who enrolled it and no way to revoke
// this one), the laptop revoked after a confirmation that says what
// happens, and the page saying what was rotated; the same page in French.
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

await step('the page in French', async () => {
  await alice.locator('#lang').selectOption('fr');
  await alice.getByRole('heading', { name: 'Vos appareils' }).waitFor();
  const text = await alice.locator('#devices').innerText();
  assert(/cet appareil/.test(text) && /Révoqué le/.test(text), `French marks: ${text}`);
  noProblems(alice);
});

await browser.close();
done();
