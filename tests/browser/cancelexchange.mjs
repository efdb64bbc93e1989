// Cancelling a code exchange from the greeter's side: Alice invites Bob,
// both screens show their codes, Alice stops the enrolment; her screen
// says that nothing was enrolled. Bob's side learns it at its next step
// (the code he types is sent to an attempt the server aborted): his screen
// says the other side stopped, asks no passphrase, and Bob is not among
// the people.
import { config, launch, person, step, done, assert, unlock, noProblems, watch } from './lib.mjs';

const browser = await launch();
const alice = (await person(browser, config.admin.url)).page;
const bob = (await person(browser, config.bob.url, 'fr-FR')).page;
watch(alice, bob);

let link;
let aliceCode;
await step('Alice invites Bob; Bob pastes the link and gives his name', async () => {
  await alice.locator('#lock-title').waitFor();
  await unlock(alice, config.admin.passphrase);
  await alice.getByRole('link', { name: 'People' }).click();
  await alice.getByLabel('Their email address').fill(config.bob.email);
  await alice.getByRole('button', { name: 'Create the invitation' }).click();
  link = (await alice.locator('#invitation-link').textContent()).trim();
  await bob.getByRole('heading', { name: 'Bienvenue dans coffre' }).waitFor();
  await bob.getByLabel("Lien d'invitation").fill(link);
  await bob.getByRole('button', { name: 'Continuer' }).click();
  await bob.locator('#invitation-for', { hasText: config.bob.email }).waitFor();
  await bob.getByLabel('Votre nom').fill(config.bob.name);
  await bob.getByRole('button', { name: 'Continuer' }).click();
});

await step('both screens show a code; Alice stops the enrolment', async () => {
  await alice.getByRole('button', { name: 'Start the code exchange' }).click();
  await alice.locator('#my-code').waitFor();
  await bob.locator('#my-code').waitFor();
  aliceCode = (await alice.locator('#my-code').textContent()).trim();
  await alice.getByRole('button', { name: 'Stop the enrolment' }).click();
  await alice.locator('#exchange-status', { hasText: 'Enrolment stopped: nothing was enrolled.' }).waitFor();
  assert(await alice.getByRole('button', { name: 'Stop the enrolment' }).isDisabled(), 'the stop button is spent');
  assert(await alice.locator('#my-code').count() === 1, 'Alice still sees what she stopped');
});

await step("Bob's screen says the enrolment did not go through, and asks for no passphrase", async () => {
  await bob.getByLabel(/Code que/).fill(aliceCode);
  await bob.getByRole('button', { name: 'Confirmer' }).click();
  const status = bob.locator('#exchange-status');
  await status.filter({ hasText: "L'autre personne a arrêté" }).waitFor({ timeout: 60_000 });
  const text = await status.innerText();
  assert(!/Échangez vos codes|attente/i.test(text), `an error, not a waiting step: ${text}`);
  assert(await bob.getByLabel('Choisissez une phrase secrète').count() === 0, 'no passphrase step');
  assert(await bob.locator('#my-code').count() === 0, 'the code is gone from Bob\'s screen');
});

await step('Bob is not among the people', async () => {
  await alice.reload();
  await alice.locator('#people').waitFor();
  assert(await alice.locator('#people tr', { hasText: config.bob.email }).count() === 0, 'Bob was not enrolled');
  noProblems(alice);
});

await browser.close();
done();
