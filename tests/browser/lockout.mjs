// The lock-out: after 10 wrong passphrases the lock screen says until when
// unlocking is refused (on the refused try, and on a reloaded page); once
// that time is past, the right passphrase unlocks. The app's rate-limit
// clock is the test's: `advance` moves it instead of waiting minutes.
import { config, launch, person, step, done, assert, unlock, noProblems, watch } from './lib.mjs';

const browser = await launch();
const { page } = await person(browser, config.admin.url);
watch(page);
const msg = page.locator('#unlock-error');

async function advance(by) {
  const r = await fetch(`${config.clock}?by=${by}`, { method: 'POST' });
  assert(r.ok, `moving the app's clock: ${r.status}`);
}

async function tryPassphrase(p) {
  await page.getByLabel('Passphrase').fill(p);
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/unlock'));
  await page.getByRole('button', { name: 'Unlock' }).click();
  return answer;
}

// expectUntil checks the lock-out sentence and that its time is the app's
// answer (wait seconds) from now by the page's clock, to the minute.
async function expectUntil(wait) {
  const text = (await msg.innerText()).trim();
  const m = /^10 wrong passphrases in a row: unlocking is refused until (.+)\.$/.exec(text);
  assert(m, `the lock-out sentence, not "${text}"`);
  const around = await page.evaluate((w) => [w - 10, w + 10].map((s) => new Intl.DateTimeFormat(document.documentElement.lang || navigator.language,
    { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(Date.now() + s * 1000))), wait);
  assert(around.includes(m[1]), `refused until "${m[1]}", not ${wait} s from now (${around.join(' or ')})`);
}

await step('nine wrong passphrases: each says wrong; too soon says wait', async () => {
  await page.locator('#lock-title').waitFor();
  for (let i = 1; i <= 9; i++) {
    const r = await tryPassphrase(`wrong passphrase ${i}`);
    assert(r.status() === 401, `try ${i}: ${r.status()}`);
    await msg.filter({ hasText: 'Wrong passphrase. Try again.' }).waitFor();
    if (i === 1) {
      // at once again: refused without being heard, and the page says to wait
      const soon = await tryPassphrase('wrong again');
      assert(soon.status() === 429, `a try too soon: ${soon.status()}`);
      await msg.filter({ hasText: /^Too many wrong passphrases: wait 1 s, then try again\.$/ }).waitFor();
    }
    await advance('60s');
  }
});

await step('the tenth, then any try: the page says until when unlocking is refused', async () => {
  const r = await tryPassphrase('wrong passphrase 10');
  assert(r.status() === 401, `try 10: ${r.status()}`);
  await advance('60s');
  const refused = await tryPassphrase(config.admin.passphrase);
  assert(refused.status() === 429 && (await refused.json()).code === 'locked_out', `the right passphrase during the lock-out: ${refused.status()}`);
  assert(refused.headers()['retry-after'] === '840', `Retry-After ${refused.headers()['retry-after']}`);
  await msg.filter({ hasText: 'unlocking is refused until' }).waitFor();
  await expectUntil(840);
});

await step('a reloaded page says it too, from the app\'s state', async () => {
  await page.reload();
  await page.locator('#lock-title').waitFor();
  await msg.filter({ hasText: 'unlocking is refused until' }).waitFor();
  await expectUntil(840);
  const state = await page.evaluate(async () => (await fetch('/api/state', { headers: { 'X-Coffre-CSRF': localStorage.getItem('coffre.csrf') || '' } })).json());
  assert(state.locked_out === true && state.unlock_wait_seconds === 840, `state ${JSON.stringify(state)}`);
});

await step('after the lock-out, the right passphrase unlocks', async () => {
  await advance('14m');
  await unlock(page, config.admin.passphrase);
  await page.getByRole('heading', { name: /vaults/i }).first().waitFor();
  noProblems(page);
});

await browser.close();
done();
