// The session cookie alone opens nothing (SECURITY A71): the token reaches
// the page in the login redirect's fragment, leaves the address at once,
// and stays in the page's storage (a reload, another tab); a browser that
// has only the cookie (as a server on another port of this machine would
// get it) sees the login message and reads nothing.
import { config, launch, person, step, done, assert, unlock, noProblems, watch } from './lib.mjs';

const browser = await launch();
const { context, page } = await person(browser, config.admin.url);
watch(page);
const origin = new URL(config.admin.url).origin;

await step('the login link leaves neither the login token nor the page token in the address', async () => {
  await page.locator('#lock-title').waitFor();
  const u = new URL(page.url());
  assert(u.search === '' && u.hash === '', `the address is ${page.url()}`);
  const stored = await page.evaluate(() => localStorage.getItem('coffre.csrf'));
  assert(stored && stored.length >= 40, 'the page keeps its token');
  await unlock(page, config.admin.passphrase);
});

await step('a reload and another tab of the same browser carry on', async () => {
  await page.reload();
  await page.locator('#top').getByRole('link', { name: 'Vaults', exact: true }).waitFor();
  const tab = await context.newPage();
  await tab.goto(`${origin}/#/people`);
  await tab.locator('#people').waitFor();
  await tab.close();
});

await step('a browser with the cookie only: the login message, and the API answers 403 csrf', async () => {
  const thief = await browser.newContext();
  await thief.addCookies(await context.cookies());
  const p = await thief.newPage();
  await p.goto(origin + '/');
  await p.getByText(/needs a login link/).waitFor();
  const r = await p.evaluate(async () => {
    const out = {};
    for (const path of ['/api/session', '/api/state', '/api/vaults', '/api/users', '/api/audit']) {
      const x = await fetch(path);
      out[path] = [x.status, (await x.json()).code];
    }
    const t = await fetch('/api/tickets', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"url": "/api/vaults/x/content?path=/a"}' });
    out.tickets = [t.status, (await t.json()).code];
    return out;
  });
  for (const [path, [status, code]] of Object.entries(r)) {
    assert(status === 403 && code === 'csrf', `${path}: ${status} ${code}`);
  }
  await thief.close();
  noProblems(page);
});

await browser.close();
done();
