// Keyboard only: unlock, open a vault, preview a file and close the
// preview, open and cancel a file's delete question, open its history and
// go back to the folder, with Tab, Enter and Escape and never the mouse.
// Every element that takes the focus on the way shows it: a focus outline.
import { config, launch, person, step, done, assert, noProblems, watch } from './lib.mjs';

const browser = await launch();
const { page } = await person(browser, config.admin.url);
watch(page);
const file = config.file;

// focused says what has the focus: its description, and whether it draws
// a focus outline (the style of :focus-visible).
async function focused() {
  return page.evaluate(() => {
    const a = document.activeElement;
    const cs = getComputedStyle(a);
    return {
      desc: `<${a.tagName.toLowerCase()}> ${(a.getAttribute('aria-label') || a.textContent || '').trim().slice(0, 60)}`,
      body: a === document.body,
      outline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0,
    };
  });
}

async function isFocused(locator) {
  return locator.evaluate((el) => el === document.activeElement);
}

// tabTo presses Tab until locator has the focus, checking that every
// element the focus goes through shows it.
async function tabTo(locator, max = 80) {
  await locator.waitFor();
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focused();
    // past the last control the focus leaves the page (the body) and the
    // next Tab comes back to the first
    assert(f.outline || f.body, `the focus on ${f.desc} is not visible (no outline)`);
    if (await isFocused(locator)) return;
  }
  throw new Error(`${max} Tabs never reached ${locator}`);
}

async function expectFocus(locator, what) {
  assert(await isFocused(locator), `the focus is on ${what}, not on ${(await focused()).desc}`);
  const f = await focused();
  assert(f.outline, `the focus on ${f.desc} is not visible (no outline)`);
}

await step('unlock: the passphrase field has the focus, Enter unlocks', async () => {
  const pass = page.getByLabel('Passphrase');
  await page.locator('#lock-title').waitFor();
  await expectFocus(pass, 'the passphrase field');
  await page.keyboard.type(config.admin.passphrase);
  await page.keyboard.press('Enter');
  await page.locator('#lock-title').waitFor({ state: 'detached' });
});

await step('Tab to the vault, Enter opens it', async () => {
  await tabTo(page.locator('#vaults a.vault-link', { hasText: config.vault }));
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: config.vault }).waitFor();
});

const previewButton = page.getByRole('button', { name: `Preview ${file}` });
await step('Tab to the file, Enter previews it, Escape closes the preview and gives the focus back', async () => {
  await tabTo(previewButton);
  await page.keyboard.press('Enter');
  await page.locator('#preview pre', { hasText: config.content }).waitFor();
  await expectFocus(page.locator('#preview').getByRole('button', { name: 'Close' }), 'the preview\'s Close button');
  await page.keyboard.press('Escape');
  await page.locator('#preview').waitFor({ state: 'hidden' });
  await expectFocus(previewButton, 'the file it previewed');
});

await step('Tab to Delete, Enter asks, Escape answers no and gives the focus back', async () => {
  const del = page.getByRole('button', { name: `Delete ${file}` });
  await tabTo(del);
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await expectFocus(dialog.getByRole('button', { name: 'Delete' }), 'the question\'s Delete button');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await expectFocus(del, 'the Delete button');
  assert(await page.locator(`#files tr[data-name="${file}"]`).count() === 1, 'the file is still there');
});

await step('Tab to History, Enter opens it; Tab to "Back to the folder", Enter goes back', async () => {
  await tabTo(page.getByRole('link', { name: `History of ${file}` }));
  await page.keyboard.press('Enter');
  await page.locator('#history tbody tr').first().waitFor();
  await tabTo(page.getByRole('link', { name: 'Back to the folder' }));
  await page.keyboard.press('Enter');
  await page.locator(`#files tr[data-name="${file}"]`).waitFor();
  await tabTo(previewButton);
  noProblems(page);
});

await browser.close();
done();
