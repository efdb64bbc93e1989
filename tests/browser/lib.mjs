// What the scenario scripts share: the configuration browser_test.go
// writes, Debian's Chromium launched headless without network chatter,
// one browser context per person, steps that report "N passed, N failed",
// and screenshots of the main screens when asked for.
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';

export const config = JSON.parse(readFileSync(process.env.COFFRE_BROWSER_CONFIG, 'utf8'));

// Generous bounds for a loaded 2-core machine (scrypt, key rotation):
// a bound, not an expectation.
export const timeout = 30_000;

export async function launch() {
  return chromium.launch({
    executablePath: config.chromium || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

// person opens a browser context (its own cookies and storage) at 1280×800
// in language lang, and a page at the app's login address. Any dialog
// (alert, confirm) the page opens is recorded: the interface uses none,
// and a script that an HTML-like name made run would open one.
export async function person(browser, url, lang = 'en-GB') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: lang });
  context.setDefaultTimeout(timeout);
  const page = await context.newPage();
  page.dialogs = [];
  page.on('dialog', async (d) => { page.dialogs.push(d.message()); await d.dismiss(); });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  // A failed API call (a wrong passphrase: 403, locked: 423) is logged by
  // the browser itself; anything else on the console is the interface's.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) page.errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return { context, page };
}

let passed = 0;
let failed = 0;
let stopped = false;
const pages = [];

// watch registers pages whose state is saved when a step fails.
export function watch(...ps) { pages.push(...ps); }

// step runs one named step; after a failure the others are not run (they
// build on it), and a screenshot of each watched page is left for whoever
// reads the log.
export async function step(name, fn) {
  if (stopped) return;
  const start = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    failed++;
    stopped = true;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    const dir = join(tmpdir(), `coffre-browser-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    for (const [i, p] of pages.entries()) {
      try {
        const file = join(dir, `failure-${i}.png`);
        await p.screenshot({ path: file, fullPage: true });
        console.log(`     page ${i} at ${p.url()}: ${file}`);
        console.log(`     its text: ${(await p.locator('body').innerText()).slice(0, 1500).replace(/\n+/g, ' | ')}`);
      } catch { /* the page is gone */ }
    }
  }
}

// done prints the closing line and sets the exit status.
export function done() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
}

// shot saves a screenshot of the page as NAME.png when screenshots were
// asked for (COFFRE_SCREENSHOTS).
export async function shot(page, name) {
  if (!config.screenshots) return;
  mkdirSync(config.screenshots, { recursive: true });
  await page.screenshot({ path: join(config.screenshots, `${name}.png`) });
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

// unlock types the passphrase on the lock screen and waits for the vaults.
export async function unlock(page, passphrase) {
  await page.getByLabel(/passphrase|phrase secrète/i).fill(passphrase);
  await page.getByRole('button', { name: /^(unlock|déverrouiller)$/i }).click();
  await page.locator('#lock-title').waitFor({ state: 'detached' });
}

// noProblems checks that the page ran no script it should not have and
// logged no error.
export function noProblems(page) {
  assert(page.dialogs.length === 0, `a dialog opened: ${JSON.stringify(page.dialogs)}`);
  assert(page.errors.length === 0, `page errors: ${JSON.stringify(page.errors)}`);
}
