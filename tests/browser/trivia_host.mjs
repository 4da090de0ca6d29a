// Trivia as a hosted game (`trivia --host`) in headless Chromium, driven
// with playwright-core. Started by tests/browser.rs, which runs the example
// binary and passes:
//
//   REX_URL          the host (its start page is at /)
//   REX_SHOTS        where to save screenshots
//   REX_CHROMIUM     the browser to launch (/usr/bin/chromium)
//   REX_QUESTIONS    the questions, in order: [{text, choices, answer}]
//
// Two TVs each host a game from the start page at the same time; two
// phones join the first by typing its code (one in lower case, after a
// code with a letter codes never have and a code of no room, which the
// page explains), a third phone joins the second. Both games are played to
// the end, and neither sees the other's players: not on the TVs, and not
// in either room's log. Every check waits for what a person would see
// (with a generous timeout); nothing sleeps and hopes.

import { launch } from "./chromium.mjs";
import * as script from "./script.mjs";
import { assert, currentStep, escape, log, need } from "./script.mjs";
import { assertFits, assertIcon, watch } from "./checks.mjs";

const URL = need("REX_URL");
const SHOTS = need("REX_SHOTS");
const CHROMIUM = need("REX_CHROMIUM");
const QUESTIONS = JSON.parse(need("REX_QUESTIONS"));
const WAIT = 30_000;
const ALPHABET = "CDFGHJKMNPQRTVWX";

const waitText = (page, selector, pattern, what) => script.waitText(page, selector, pattern, WAIT, what);

const browser = await launch(CHROMIUM);
const pages = {};
const errors = [];
// Set while Bob types a code of no room: the start page's check of it is
// answered 404 on purpose.
let probing = false;

async function open(name, url, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  // The response, and Chromium's console line about it.
  watch(page, name, errors, (what) => name === "bob" && probing && /404.*\/r\/[A-Z]{4}\/rex\/v0\/info/.test(what));
  page.rexName = name;
  await page.goto(url);
  await assertIcon(page, name);
  pages[name] = page;
  return page;
}

async function shot(page, file) {
  await page.screenshot({ path: `${SHOTS}/${file}`, animations: "disabled" });
}

// 16:9, and small enough that the README's pictures stay small files.
const tvSize = { viewport: { width: 960, height: 540 } };
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true };

/** A TV opens the start page and hosts a game; returns the room's code. */
async function hostGame(tv) {
  await tv.locator("#host-button").click();
  await tv.waitForURL(/\/r\/[A-Z]{4}\/$/, { timeout: WAIT });
  const code = new globalThis.URL(tv.url()).pathname.split("/")[2];
  assert([...code].every((c) => ALPHABET.includes(c)), `the code ${code} is made of the codes' letters`);
  await waitText(tv, "#room-code", new RegExp(`^${code}$`), `the TV showing the code ${code}`);
  const qr = tv.locator(".join-card img.qr");
  await qr.waitFor({ timeout: WAIT });
  const width = await qr.evaluate((img) => img.decode().then(() => img.naturalWidth, () => 0));
  assert(width > 0, "the room's QR code loads");
  const join = await tv.evaluate(() => fetch("join.json").then((r) => r.json()));
  assert(join.code === code && join.url.endsWith(`/r/${code}/play`), `the QR code is the room's phone page (${join.url})`);
  return code;
}

/** A phone types `typed` on the start page, joins as `name`. */
async function joinWithCode(page, typed, code, name) {
  await page.locator("#code").fill(typed);
  await page.locator("#join-button").tap();
  await page.waitForURL(new RegExp(`/r/${code}/play$`), { timeout: WAIT });
  await page.locator("#name").waitFor({ timeout: WAIT });
  await page.locator("#name").fill(name);
  await page.locator("#join-button").tap();
  await waitText(page, "#me", new RegExp(`^${escape(name)}$`));
}

/** The names in the `joined` events of room `code`'s log, read until `until` of them. */
async function joinedInLog(code, until) {
  const controller = new AbortController();
  const response = await fetch(`${URL}/r/${code}/rex/v0/events?start=0`, {
    headers: { accept: "application/x-ndjson" },
    signal: controller.signal,
  });
  assert(response.ok, `room ${code}'s log answered ${response.status}`);
  const names = [];
  const decoder = new TextDecoder();
  let text = "";
  let head = 0;
  const reader = response.body.getReader();
  const timer = setTimeout(() => controller.abort(), WAIT);
  try {
    // Up to the final standings: the whole game, every join before it.
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const lines = text.split("\n");
      text = lines.pop();
      let finished = false;
      for (const line of lines.filter(Boolean)) {
        const event = JSON.parse(line);
        head = event.index + 1;
        if (event.kind === "joined") names.push(event.data.name);
        if (event.kind === "finished") finished = true;
      }
      if (finished) break;
    }
  } catch (err) {
    throw new Error(`reading room ${code}'s log (after ${head} events, ${until} joins expected): ${err.message}`);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return names.sort();
}

/**
 * Plays a game of one question, which the host starts: every phone
 * answers it right. A hosted room asks the set in its own random order,
 * so the question is looked up by its text.
 */
async function play(tv, host, phones) {
  await host.locator("#start").tap();
  const text = await waitText(tv, "#question", /\S/, "the TV showing a question");
  const q = QUESTIONS.find((q) => q.text === text);
  assert(q, `the question "${text}" is one of the set`);
  for (const page of phones) await waitText(page, "#question", new RegExp("^" + escape(q.text) + "$"));
  for (const page of phones) await page.locator(`#pad .answer[data-choice="${q.answer}"]`).tap();
  for (const page of phones) await page.locator("#finished").waitFor({ timeout: WAIT });
}

try {
  log("a TV opens the host's start page");
  const tv1 = await open("tv1", URL + "/", tvSize);
  await tv1.locator("#host-button").waitFor({ timeout: WAIT });
  await waitText(tv1, "#host-name", /^Trivia night$/);
  await shot(tv1, "trivia-host-landing.png");
  await assertFits(tv1, "tv1", "start", "#host-button");

  log("it hosts a game: the room's TV page shows the code and its QR code");
  const code1 = await hostGame(tv1);
  await shot(tv1, "trivia-host-tv.png");
  await assertFits(tv1, "tv1", "lobby", "#room-code");

  log("Bob mistypes the code: the start page says what is wrong before asking the host");
  const bob = await open("bob", URL + "/", phone);
  await assertFits(bob, "bob", "start", "#code");
  await bob.locator("#code").fill("KXQO");
  await bob.locator("#join-button").tap();
  await waitText(bob, "#join-error", /never have the letter O/);
  await bob.locator("#code").fill("KX");
  await bob.locator("#join-button").tap();
  await waitText(bob, "#join-error", /has 4 letters/);
  const unknown = [...ALPHABET].map((c) => c.repeat(4)).find((c) => c !== code1);
  probing = true;
  await bob.locator("#code").fill(unknown);
  await bob.locator("#join-button").tap();
  await waitText(bob, "#join-error", new RegExp(`no room ${unknown}; check the code on the TV`));
  probing = false;
  assert(new globalThis.URL(bob.url()).pathname === "/", "Bob is still on the start page");

  log("Alice types the code in lower case, Bob in capitals; both join the first game");
  const alice = await open("alice", URL + "/", phone);
  await joinWithCode(alice, code1.toLowerCase(), code1, "Alice");
  await joinWithCode(bob, code1, code1, "Bob");

  log("a second TV hosts a second game at the same time; Carol joins it");
  const tv2 = await open("tv2", URL + "/", tvSize);
  const code2 = await hostGame(tv2);
  assert(code2 !== code1, `the second game has its own code (${code1}, ${code2})`);
  const carol = await open("carol", URL + "/", phone);
  await joinWithCode(carol, code2, code2, "Carol");

  log("each TV shows its own players only");
  await waitText(tv1, "#player-count", /^2$/, "2 players on the first TV");
  await waitText(tv2, "#player-count", /^1$/, "1 player on the second TV");
  await waitText(tv1, "#players", /Alice/);
  await waitText(tv1, "#players", /Bob/);
  await waitText(tv2, "#players", /Carol/);
  assert(!(await tv1.locator("#players").textContent()).includes("Carol"), "Carol is not on the first TV");
  const onTv2 = await tv2.locator("#players").textContent();
  assert(!onTv2.includes("Alice") && !onTv2.includes("Bob"), `the second TV shows only Carol (${onTv2})`);

  log("both games are played to the end, each with its own players");
  await Promise.all([play(tv1, alice, [alice, bob]), play(tv2, carol, [carol])]);
  await waitText(tv1, ".final", /Alice/);
  await waitText(tv1, ".final", /Bob/);
  await waitText(tv2, ".final", /Carol/);
  assert(!(await tv1.locator(".final").textContent()).includes("Carol"), "the first game's standings are its own");
  const final2 = await tv2.locator(".final").textContent();
  assert(!final2.includes("Alice") && !final2.includes("Bob"), `the second game's standings are its own (${final2})`);

  log("each room's log holds its own players' joins only");
  const [log1, log2] = await Promise.all([joinedInLog(code1, 2), joinedInLog(code2, 1)]);
  assert(JSON.stringify(log1) === JSON.stringify(["Alice", "Bob"]), `room ${code1}'s log joins Alice and Bob (${log1})`);
  assert(JSON.stringify(log2) === JSON.stringify(["Carol"]), `room ${code2}'s log joins Carol (${log2})`);

  assert(errors.length === 0, `no errors or failed requests on the pages:\n  ${errors.join("\n  ")}`);
  console.log("browser test passed");
} catch (err) {
  console.error(`FAILED at "${currentStep()}": ${err.stack || err}`);
  for (const [name, page] of Object.entries(pages)) {
    await page.screenshot({ path: `${SHOTS}/trivia-host-failed-${name}.png` }).catch(() => {});
  }
  if (errors.length) console.error(`errors on the pages:\n  ${errors.join("\n  ")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
