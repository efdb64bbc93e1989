// A second computer of the same person, in the interface: a link made on
// the first, pasted on the second's first run, codes compared, and the
// second opens on the same vaults.
import { config, launch, person, step, done, assert, unlock, noProblems, watch } from './lib.mjs';

const browser = await launch();
const first = (await person(browser, config.admin.url)).page;
const second = (await person(browser, config.laptop.url)).page;
watch(first, second);

await step('the first computer makes a link for another one', async () => {
  await first.locator('#lock-title').waitFor();
  await unlock(first, config.admin.passphrase);
  await first.getByLabel('Name of the new vault').fill('Pédiatrie');
  await first.getByRole('button', { name: 'Create' }).click();
  await first.locator('#vaults tr', { hasText: 'Pédiatrie' }).waitFor();
  await first.getByRole('link', { name: 'People' }).click();
  await first.getByRole('button', { name: 'Create a link for another computer' }).click();
  await first.locator('#device-invitation #invitation-link').waitFor();
});

await step('the second computer takes it: no name asked, a label (the passphrase comes last)', async () => {
  const link = (await first.locator('#device-invitation #invitation-link').textContent()).trim();
  await second.getByLabel('Invitation link').fill(link);
  await second.getByRole('button', { name: 'Continue' }).click();
  await second.locator('#invitation-for', { hasText: 'adds this computer to your account' }).waitFor();
  assert(await second.getByLabel('Your name').count() === 0, 'no name for a device');
  await second.getByLabel('Name of this computer (optional)').fill('consultation');
  assert(await second.getByLabel('Choose a passphrase').count() === 0, 'no passphrase before the codes');
  await second.getByRole('button', { name: 'Continue' }).click();
});

await step('codes compared on both screens, then the passphrase; the second computer opens on the same vaults', async () => {
  await first.locator('#device-invitation').getByRole('button', { name: 'Start the code exchange' }).click();
  const a = (await first.locator('#my-code').textContent({ timeout: 30_000 })).trim();
  const b = (await second.locator('#my-code').textContent({ timeout: 30_000 })).trim();
  assert(a && b && a !== b, `two different codes: ${a} / ${b}`);
  await second.getByLabel(/Code that/).fill(a);
  await second.getByRole('button', { name: 'Confirm' }).click();
  await first.getByLabel(/Code that/).fill(b);
  await first.getByRole('button', { name: 'Confirm' }).click();
  // a greeter may be asked to confirm who joins
  const enrol = first.getByRole('button', { name: 'Enrol', exact: true });
  const enrolled = first.locator('#enrolled');
  await Promise.race([enrol.waitFor(), enrolled.waitFor()]);
  if (await enrol.isVisible()) await enrol.click();
  await enrolled.waitFor();
  // the passphrase, last; two different ones are refused before sending
  const pass = second.getByLabel('Choose a passphrase');
  await pass.waitFor({ timeout: 60_000 });
  await pass.fill(config.laptop.passphrase);
  await second.getByLabel('Type it again').fill(`${config.laptop.passphrase}!`);
  await second.getByRole('button', { name: 'Finish' }).click();
  assert(await second.getByLabel('Type it again').evaluate((el) => el.validationMessage === 'The two passphrases differ.'), 'the mismatch is said');
  await second.getByLabel('Type it again').fill(config.laptop.passphrase);
  await second.getByRole('button', { name: 'Finish' }).click();
  await second.locator('#vaults tr', { hasText: 'Pédiatrie' }).waitFor({ timeout: 60_000 });
  noProblems(first);
  noProblems(second);
});

await browser.close();
done();
