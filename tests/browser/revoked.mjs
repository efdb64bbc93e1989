// A laptop revoked while it was away: its person unlocks it in the
// interface, the app learns of the revocation from the server, checks it
// in its own verified log and erases; the page then shows, on its own,
// who revoked the laptop and when, the synced folder cleaned and the
// changed file kept aside, and every call answers device_revoked
// (SPEC.md §15.3).
import { config, launch, person, step, done, assert, noProblems, watch, shot } from './lib.mjs';

const browser = await launch();
const { page } = await person(browser, config.laptop.url);
watch(page);
const title = () => page.getByRole('heading', { name: 'This device has been revoked' });

await step('the passphrase unlocks, and the laptop learns it was revoked', async () => {
  await page.locator('#lock-title').waitFor();
  await page.getByLabel(/passphrase/i).fill(config.laptop.passphrase);
  await page.getByRole('button', { name: /^unlock$/i }).click();
  await title().waitFor();
  await shot(page, 'revoked');
});

await step('the page says by whom, the folder cleaned and the file kept aside', async () => {
  const text = await page.locator('#revoked').innerText();
  assert(text.includes(config.revokedBy), `it names ${config.revokedBy}: ${text}`);
  assert(text.includes(config.dir + '\n') || text.includes(config.dir), `it names the folder cleaned: ${text}`);
  assert(text.includes(config.dir + '.kept-'), `it says where the kept files are: ${text}`);
  assert(text.includes('other.txt'), `it names the kept file: ${text}`);
  assert(text.includes('1 synced file(s) erased'), `it counts the files erased: ${text}`);
  assert(await page.locator('#top').isHidden(), 'no navigation is left');
});

await step('every call answers device_revoked, and a reload shows the same page', async () => {
  const r = await page.evaluate(async () => {
    const x = await fetch('/api/vaults', { headers: { 'X-Coffre-CSRF': localStorage.getItem('coffre.csrf') || '' } });
    return { status: x.status, body: await x.json() };
  });
  assert(r.status === 410 && r.body.code === 'device_revoked', `GET /api/vaults: ${JSON.stringify(r)}`);
  await page.reload();
  await title().waitFor();
  noProblems(page);
});

await browser.close();
done();
