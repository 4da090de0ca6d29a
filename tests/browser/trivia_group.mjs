// Trivia on two hosts of a group (`trivia --host --redis`) in headless
// Chromium, driven with playwright-core. Started by tests/browser.rs,
// which runs two example hosts on one Redis and passes:
//
//   REX_URL_A        the host a TV opens a game on
//   REX_URL_B        the other host, where the phones start
//   REX_SHOTS        where to save screenshots
//   REX_CHROMIUM     the browser to launch (/usr/bin/chromium)
//
// A phone that types the game's code on the other host's start page, and
// one that opens the other host's phone-page URL of the game, both end at
// the game's own host (a 307 the browser follows), join, and appear on the
// TV. Every check waits for what a person would see; nothing sleeps.

import { launch } from "./chromium.mjs";
import * as script from "./script.mjs";
import { assert, currentStep, escape, log, need } from "./script.mjs";
import { watch } from "./checks.mjs";

const URL_A = need("REX_URL_A");
const URL_B = need("REX_URL_B");
const SHOTS = need("REX_SHOTS");
const CHROMIUM = need("REX_CHROMIUM");
const WAIT = 30_000;

const waitText = (page, selector, pattern, what) => script.waitText(page, selector, pattern, WAIT, what);

const browser = await launch(CHROMIUM);
const pages = {};
const errors = [];

async function open(name, url, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  watch(page, name, errors);
  await page.goto(url);
  pages[name] = page;
  return page;
}

const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true };

async function join(page, name) {
  await page.locator("#name").waitFor({ timeout: WAIT });
  await page.locator("#name").fill(name);
  await page.locator("#join-button").tap();
  await waitText(page, "#me", new RegExp(`^${escape(name)}$`), `${name} joined`);
}

try {
  log("a TV hosts a game on host A");
  const tv = await open("tv", `${URL_A}/`, { viewport: { width: 960, height: 540 } });
  await tv.locator("#host-button").click();
  await tv.waitForURL(/\/r\/[A-Z]{4}\/$/, { timeout: WAIT });
  const code = new globalThis.URL(tv.url()).pathname.split("/")[2];
  await waitText(tv, "#room-code", new RegExp(`^${code}$`), `the TV showing the code ${code}`);

  log("a phone types the code on host B's start page and lands on host A");
  const dana = await open("dana", `${URL_B}/`, phone);
  await dana.locator("#code").fill(code.toLowerCase());
  await dana.locator("#join-button").tap();
  await dana.waitForURL(`${URL_A}/r/${code}/play`, { timeout: WAIT });
  await join(dana, "Dana");

  log("a phone opens host B's URL of the game's phone page and lands on host A");
  const eli = await open("eli", `${URL_B}/r/${code}/play`, phone);
  assert(eli.url() === `${URL_A}/r/${code}/play`, `the page is host A's (${eli.url()})`);
  await join(eli, "Eli");

  log("the TV shows both players");
  await waitText(tv, "#player-count", /^2$/, "2 players on the TV");
  await waitText(tv, "#players", /Dana/);
  await waitText(tv, "#players", /Eli/);
  assert(errors.length === 0, `no errors or failed requests on the pages:\n  ${errors.join("\n  ")}`);
  console.log("browser test passed");
} catch (err) {
  console.error(`FAILED at "${currentStep()}": ${err.stack || err}`);
  for (const [name, page] of Object.entries(pages)) {
    await page.screenshot({ path: `${SHOTS}/trivia-group-failed-${name}.png` }).catch(() => {});
  }
  if (errors.length) console.error(`errors on the pages:\n  ${errors.join("\n  ")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
