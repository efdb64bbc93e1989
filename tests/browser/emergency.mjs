// Emergency access: Carol, whom the vault's emergency policy names but who
// is not a member, opens it in an emergency with a reason (in French, then
// the owner reads it in English); Alice, its owner, sees who, why and
// until when.
import { config, launch, person, step, done, shot, assert, unlock, noProblems, watch } from './lib.mjs';

const browser = await launch();
const carol = (await person(browser, config.carol.url, 'fr-FR')).page;
const alice = (await person(browser, config.admin.url)).page;
watch(carol, alice);
const reason = 'patiente inconsciente aux urgences, médecin traitant injoignable';

await step('Carol sees the vault she may open in an emergency, in French', async () => {
  await carol.locator('#lock-title').waitFor();
  await unlock(carol, config.carol.passphrase);
  await carol.getByRole('heading', { name: 'Ouvrir un coffre en urgence' }).waitFor();
  const form = carol.locator(`#invoke form[data-vault-id="${config.vaultId}"]`);
  const text = await form.innerText();
  assert(text.includes(config.vaultId) && /Alice/.test(text), `the vault by its id and creator: ${text}`);
});

await step('a reason is required; with one, the access is granted until a date', async () => {
  await carol.getByRole('button', { name: 'Ouvrir en urgence' }).click();
  assert(await carol.locator('#invoke input[name=reason]:invalid').count() === 1, 'an empty reason is refused');
  await carol.getByLabel('Motif').fill(reason);
  await carol.getByRole('button', { name: 'Ouvrir en urgence' }).click();
  await carol.getByText(/Accès d'urgence accordé jusqu'au/).waitFor();
  await carol.locator(`#emergencies li[data-vault-id="${config.vaultId}"]`).waitFor();
  assert(await carol.locator('#invoke').count() === 0, 'nothing left to invoke');
  noProblems(carol);
});

await step('Alice, the owner, sees who opened her vault, why and until when', async () => {
  await alice.locator('#lock-title').waitFor();
  await unlock(alice, config.admin.passphrase);
  const item = alice.locator(`#emergencies li[data-vault-id="${config.vaultId}"]`);
  await item.waitFor();
  const text = await item.innerText();
  assert(/Carol/.test(text) && text.includes(config.vault) && text.includes(reason) && /in an emergency, until \S/.test(text),
    `who, which vault, why, until when: ${text}`);
  await shot(alice, 'emergency');
  noProblems(alice);
});

await step("Alice, an administrator, changes Carol's profile on the People page; it shows changed, here and after a reload", async () => {
  await alice.getByRole('link', { name: 'People' }).click();
  const select = alice.getByLabel('Profile of Carol Martin');
  await select.waitFor();
  assert(await select.inputValue() === 'standard', `Carol starts standard: ${await select.inputValue()}`);
  await select.selectOption('admin');
  await alice.locator('#status', { hasText: 'Carol Martin is now administrator.' }).waitFor();
  await alice.reload();
  await alice.getByLabel('Profile of Carol Martin').waitFor();
  const now = await alice.getByLabel('Profile of Carol Martin').inputValue();
  assert(now === 'admin', `after a reload Carol is ${now}`);
  noProblems(alice);
});

await browser.close();
done();
