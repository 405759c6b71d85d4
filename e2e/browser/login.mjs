// Signs in through a gateway with headless Chromium: opens START_URL (a login route), fills the
// test provider's login form, consents, and prints what the browser ends up showing as one JSON
// line: {"url", "body", "cookies": [{name, httpOnly, sameSite}], "blocked": [urls]}. A screenshot
// of the final page goes to SCREENSHOT.
// `node login.mjs START_URL SCREENSHOT [USER]`; CHROMIUM overrides /usr/bin/chromium.
// Only 127.0.0.1 is reached: every other request is aborted and reported in "blocked".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [startUrl, screenshot, user = 'alice'] = process.argv.slice(2);
if (!startUrl || !screenshot) {
  console.error('usage: node login.mjs START_URL SCREENSHOT [USER]');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  console.error(`${executablePath} is missing: install Debian's chromium package`);
  process.exit(3);
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  timeout: 30_000,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  ],
});
const blocked = [];
try {
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    blocked.push(url.origin);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);

  await page.goto(startUrl);
  // The provider's login page.
  await page.locator('input[name="login"]').fill(user);
  await page.locator('input[name="password"]').fill('pw');
  await page.locator('button[type="submit"]').click();
  // The consent page, then back through the gateway's callback to the app.
  await page.locator('button[type="submit"]', { hasText: 'Continue' }).click();
  await page.waitForURL(startUrl);
  await page.waitForLoadState('load');

  fs.mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  const body = await page.evaluate(() => document.body.innerText);
  const cookies = (await context.cookies()).map(({ name, httpOnly, sameSite }) => ({ name, httpOnly, sameSite }));
  console.log(JSON.stringify({ url: page.url(), body, cookies, blocked }));
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
