// Two people, two browsers, two apps: Alice (an administrator) invites Bob;
// Bob claims the invitation in his interface and both compare their codes
// on screen; Alice shares a vault with him; a file dropped on one side
// appears on the other and opens in the preview; a new version, the
// history with both authors, a restore; and removing Bob from the vault
// takes his access away.
import { config, launch, person, step, done, shot, assert, unlock, noProblems, watch } from './lib.mjs';

const browser = await launch();
const alice = (await person(browser, config.admin.url)).page;
const bob = (await person(browser, config.bob.url, 'fr-FR')).page;
watch(alice, bob);
const vault = 'Cardiologie';

// until retries check (reloading the page first) until it passes: the
// other app learns of a change through the server's events.
async function until(page, what, check, ms = 45_000) {
  const end = Date.now() + ms;
  for (;;) {
    try { await check(); return; } catch (e) {
      if (Date.now() > end) throw new Error(`${what}: ${e.message}`);
    }
    await page.waitForTimeout(1000);
    await page.reload();
  }
}

await step('Alice unlocks and creates a vault', async () => {
  await alice.locator('#lock-title').waitFor();
  await unlock(alice, config.admin.passphrase);
  await alice.getByLabel('Name of the new vault').fill(vault);
  await alice.getByRole('button', { name: 'Create' }).click();
  await alice.locator('#vaults tr', { hasText: vault }).waitFor();
});

await step("Bob's new computer shows the first run, in French", async () => {
  await bob.getByRole('heading', { name: 'Bienvenue dans coffre' }).waitFor();
  await shot(bob, 'first-run');
});

let link;
await step('Alice invites Bob: the link to send is shown', async () => {
  await alice.getByRole('link', { name: 'People' }).click();
  await alice.getByLabel('Their email address').fill(config.bob.email);
  await alice.getByRole('button', { name: 'Create the invitation' }).click();
  link = (await alice.locator('#invitation-link').textContent()).trim();
  assert(link.startsWith('coffre://'), `a coffre link: ${link}`);
});

await step('Bob pastes the link, sees what it is for, gives his name (the passphrase comes last)', async () => {
  await bob.getByLabel("Lien d'invitation").fill(link);
  await bob.getByRole('button', { name: 'Continuer' }).click();
  await bob.locator('#invitation-for', { hasText: config.bob.email }).waitFor();
  await bob.getByLabel('Votre nom').fill(config.bob.name);
  await bob.getByLabel('Nom de cet ordinateur (facultatif)').fill('portable de Bob');
  assert(await bob.getByLabel('Choisissez une phrase secrète').count() === 0, 'no passphrase before the codes');
  await bob.getByRole('button', { name: 'Continuer' }).click();
});

await step('both screens show a code; each types the other one', async () => {
  await alice.getByRole('button', { name: 'Start the code exchange' }).click();
  const aliceCode = alice.locator('#my-code');
  const bobCode = bob.locator('#my-code');
  await aliceCode.waitFor();
  await bobCode.waitFor();
  const a = (await aliceCode.textContent()).trim();
  const b = (await bobCode.textContent()).trim();
  assert(a && b && a !== b, `two different codes: ${a} / ${b}`);
  await shot(alice, 'invite-codes');
  await shot(bob, 'claim-codes');
  await bob.getByLabel(/Code que/).fill(a);
  await bob.getByRole('button', { name: 'Confirmer' }).click();
  await alice.getByLabel(/Code that/).fill(b);
  await alice.getByRole('button', { name: 'Confirm' }).click();
});

await step('Alice sees who asks to join and enrols him', async () => {
  const asks = alice.locator('#claimer');
  await asks.waitFor();
  const text = await asks.textContent();
  assert(text.includes(config.bob.name) && text.includes(config.bob.email), `says who: ${text}`);
  await alice.getByRole('button', { name: 'Enrol', exact: true }).click();
  await alice.locator('#enrolled', { hasText: config.bob.name }).waitFor();
});

await step('Bob chooses his passphrase last: a short one is refused and he types another; Bob is in', async () => {
  const pass = bob.getByLabel('Choisissez une phrase secrète');
  await pass.waitFor({ timeout: 60_000 });
  await bob.locator('#passphrase-now').waitFor();
  await shot(bob, 'first-run-passphrase');
  await pass.fill('court');
  await bob.getByLabel('Retapez-la').fill('court');
  await bob.getByRole('button', { name: 'Terminer' }).click();
  await bob.locator('#exchange-status', { hasText: /au moins 8 caractères/ }).waitFor();
  await pass.fill(config.bob.passphrase);
  await bob.getByLabel('Retapez-la').fill(config.bob.passphrase);
  await bob.keyboard.press('Enter');
  await bob.getByRole('heading', { name: 'Coffres' }).waitFor({ timeout: 60_000 });
  await alice.reload();
  await alice.locator('#people tr', { hasText: config.bob.email }).waitFor();
  await shot(alice, 'people');
});

await step('Alice shares the vault with Bob as contributor', async () => {
  await alice.getByRole('link', { name: 'Vaults' }).click();
  await alice.getByRole('link', { name: 'Sharing' }).first().click();
  await alice.getByLabel('Person (email address)').fill(config.bob.email);
  await alice.locator('#share-role').selectOption('contributor');
  await alice.getByRole('button', { name: 'Share', exact: true }).click();
  const row = alice.locator('#members tr', { hasText: config.bob.email });
  await row.waitFor();
  await shot(alice, 'sharing');
  await until(bob, 'the vault reaches Bob', async () => {
    const text = await bob.locator('#vaults tr', { hasText: vault }).innerText({ timeout: 2000 });
    assert(/contributeur/.test(text), `Bob is contributor: ${text}`);
  });
});

await step("a file dropped on Alice's side appears on Bob's, and opens in his preview", async () => {
  await alice.getByRole('link', { name: 'Files' }).click();
  const dt = await alice.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(['Amoxicilline 1 g, 3 fois par jour'], 'ordonnance.txt', { type: 'text/plain' }));
    return d;
  });
  await alice.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
  await alice.locator('#files tr[data-name="ordonnance.txt"]').waitFor();
  await bob.locator('#vaults a.vault-link', { hasText: vault }).click();
  await until(bob, 'the file reaches Bob', async () => {
    await bob.locator('#files tr[data-name="ordonnance.txt"]').waitFor({ timeout: 2000 });
  });
  await bob.getByRole('button', { name: 'Aperçu de ordonnance.txt' }).click();
  await bob.locator('#preview pre', { hasText: 'Amoxicilline 1 g' }).waitFor();
});

await step('Bob writes a new version; Alice sees both authors in the history and restores hers', async () => {
  await bob.locator('#upload-files').setInputFiles({ name: 'ordonnance.txt', mimeType: 'text/plain', buffer: Buffer.from('Amoxicilline 2 g') });
  await bob.getByRole('dialog').getByRole('button', { name: 'Remplacer' }).click();
  await bob.locator('#uploads li', { hasText: 'envoyé' }).waitFor();
  await until(alice, 'the new version reaches Alice', async () => {
    await alice.getByRole('link', { name: 'History of ordonnance.txt' }).click({ timeout: 2000 });
    await alice.locator('#history tbody tr').nth(1).waitFor({ timeout: 2000 });
  });
  const rows = await alice.locator('#history tbody tr').allInnerTexts();
  assert(rows[0].includes(config.bob.name) && rows[1].includes('Alice'), `authors newest first: ${JSON.stringify(rows)}`);
  await alice.locator('#history tbody tr').nth(1).getByRole('button', { name: /^Restore/ }).click();
  await alice.locator('#history tbody tr').nth(2).waitFor();
  await until(bob, 'the restored version reaches Bob', async () => {
    await bob.getByRole('button', { name: 'Aperçu de ordonnance.txt' }).click({ timeout: 2000 });
    await bob.locator('#preview pre', { hasText: 'Amoxicilline 1 g' }).waitFor({ timeout: 2000 });
  });
});

await step('Alice removes Bob from the vault, told that the key rotates; Bob loses access', async () => {
  await alice.getByRole('link', { name: 'Sharing' }).click();
  await alice.getByRole('button', { name: `Remove ${config.bob.name} from the vault` }).click();
  const dialog = alice.getByRole('dialog');
  assert(/key will rotate/.test(await dialog.innerText()), 'the confirmation says the key rotates');
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await alice.locator('#members tr', { hasText: config.bob.email }).waitFor({ state: 'detached' });
  await until(bob, 'Bob loses access', async () => {
    const alert = bob.locator('#alert');
    const text = await bob.locator('main').innerText();
    assert((await alert.isVisible() && /membre|coffre/i.test(await alert.innerText())) || /ne fait pas partie des vôtres/.test(text),
      `Bob is told he has no access: ${text}`);
  });
  await bob.getByRole('link', { name: 'Coffres', exact: true }).click();
  await bob.getByRole('heading', { name: 'Coffres' }).waitFor();
  assert(await bob.locator('#vaults tr', { hasText: vault }).count() === 0, 'the vault left his list');
});

await step('Alice verifies the audit trail and reads the result in words', async () => {
  await alice.getByRole('link', { name: 'People' }).click();
  await alice.getByRole('button', { name: 'Verify the audit trail' }).click();
  await alice.locator('#verify-result .state-ok', { hasText: 'Verified' }).waitFor();
  assert(await alice.locator('#audit tbody tr').count() > 3, 'the trail lists the certificates');
});

await step('Alice revokes Bob, after confirming', async () => {
  await alice.getByRole('button', { name: `Revoke ${config.bob.name}` }).click();
  await alice.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await alice.locator('#people tr', { hasText: config.bob.email }).filter({ hasText: 'revoked' }).waitFor();
  noProblems(alice);
  noProblems(bob);
});

await browser.close();
done();
