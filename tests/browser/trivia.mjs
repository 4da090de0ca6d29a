// The trivia pages (TV at /, phone at /play) in headless Chromium, driven
// with playwright-core. Started by tests/browser.rs, which passes:
//
//   REX_URL          the trivia room (TV and phone 1 load their pages here)
//   REX_CUT_URL      a fault-injection proxy to the same room (phone 2)
//   REX_CONTROL_URL  POST /down closes every connection through the proxy,
//                    and each new one before the room's answer; POST /up
//                    lets them through again; GET /connections counts the
//                    proxy's connections;
//                    POST /bots makes the bot players join
//   REX_SHOTS        where to save screenshots
//   REX_CHROMIUM     the browser to launch (/usr/bin/chromium)
//   REX_QUESTIONS    the questions, in order: [{text, choices, answer}]
//   REX_BOTS         the bots' names
//   REX_PIN          the room's PIN (the TV's QR code carries it)
//
// Every check waits for what a person would see on the page (with a
// generous timeout): nothing here sleeps and hopes. Every screen of both
// pages must fit its window at each size of `SIZES` (checks.mjs), every
// page must have an icon, and no page may log an error or a failed
// request, except the ones the refused connections cause.

import { launch } from "./chromium.mjs";
import * as script from "./script.mjs";
import { assert, currentStep, escape, log, need } from "./script.mjs";
import { assertFits, assertIcon, watch } from "./checks.mjs";

const URL = need("REX_URL");
const CUT_URL = need("REX_CUT_URL");
const CONTROL_URL = need("REX_CONTROL_URL");
const SHOTS = need("REX_SHOTS");
const CHROMIUM = need("REX_CHROMIUM");
const QUESTIONS = JSON.parse(need("REX_QUESTIONS"));
const BOTS = JSON.parse(need("REX_BOTS"));
const PIN = need("REX_PIN");
const WAIT = 30_000;

const control = (method, path) => script.control(CONTROL_URL, method, path);
const waitText = (page, selector, pattern, what) => script.waitText(page, selector, pattern, WAIT, what);
const result = (page, number) => script.result(page, number, WAIT);




const browser = await launch(CHROMIUM);

const pages = {};
const errors = [];
// Set when the script cuts Bob's connection: from then on his page may
// log the network errors of the cut stream.
let cut = false;
// Set while Bob joins without the PIN: his page is refused (403) on purpose.
let refusing = false;

async function open(name, url, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  watch(
    page,
    name,
    errors,
    (what) => name === "bob" && ((cut && /net::ERR_/.test(what)) || (refusing && /403/.test(what))),
  );
  page.rexName = name;
  await page.goto(url);
  await assertIcon(page, name);
  pages[name] = page;
  return page;
}

/** Checks that each page's current screen fits at every size. */
async function fits(screen, ...checks) {
  await Promise.all(checks.map(([page, marker]) => assertFits(page, page.rexName, screen, marker)));
}

async function shot(page, file) {
  // Animations finished: the picture shows where things settle.
  await page.screenshot({ path: `${SHOTS}/${file}`, animations: "disabled" });
}

const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true };

try {
  log("the TV opens the room");
  const tv = await open("tv", URL + "/", { viewport: { width: 1920, height: 1080 } });
  await waitText(tv, "#join-url", new RegExp(escape(URL.replace(/^http:\/\//, "")) + "/play$"));
  await waitText(tv, "#join-pin", new RegExp("^" + PIN + "$"));
  const joinJson = await tv.evaluate(() => fetch("/join.json").then((r) => r.json()));
  assert(joinJson.url.endsWith("/play?pin=" + PIN), "the QR code's URL carries the PIN");
  assert(await tv.locator("#join-pin").isVisible(), "the PIN is on screen");
  const pinBox = await tv.locator("#join-pin").boundingBox();
  assert(pinBox && pinBox.y + pinBox.height <= 1080, "the PIN is above the bottom of a 1080p TV");
  const qr = tv.locator(".join-card img.qr");
  await qr.waitFor({ timeout: WAIT });
  // decode() waits for the image to load (and fails if it cannot).
  const qrWidth = await qr.evaluate((img) => img.decode().then(() => img.naturalWidth, () => 0));
  assert(qrWidth > 0, "the QR code image loads");

  log("two phones join: Alice scanned the QR code (the PIN is in its URL), Bob typed the address");
  const alice = await open("alice", URL + "/play?pin=" + PIN, phone);
  const bob = await open("bob", CUT_URL + "/play", phone);
  await alice.locator("#name").waitFor({ timeout: WAIT });
  await fits("join", [alice, ".welcome"]);
  await alice.locator("#name").fill("Alice");
  await alice.locator("#join-button").tap();
  await waitText(alice, "#me", /^Alice$/);

  log("Bob has no PIN: the page says so and asks for it; a wrong one is refused");
  const markup = "<b>Bob</b>";
  refusing = true;
  await bob.locator("#name").fill(markup);
  await bob.locator("#join-button").tap();
  await bob.locator("#pin").waitFor({ timeout: WAIT });
  await waitText(bob, ".welcome .error", /needs a PIN/);
  await fits("pin", [bob, ".welcome #pin"]);
  await bob.locator("#pin").fill("0000");
  await bob.locator("#join-button").tap();
  await waitText(bob, ".welcome .error", /wrong PIN/);
  await bob.locator("#pin").fill(PIN);
  await bob.locator("#join-button").tap();
  await waitText(bob, "#me", new RegExp("^" + escape(markup) + "$"));
  refusing = false;
  assert(new globalThis.URL(bob.url()).searchParams.get("pin") === PIN, "the typed PIN is kept in the page's URL");
  // Alice joined first: she is the host and has the Start button; Bob waits.
  await alice.locator("#start").waitFor({ timeout: WAIT });
  await waitText(bob, ".lobby .lead", /Waiting for Alice to start/);
  assert((await bob.locator("#start").count()) === 0, "only the host has a Start button");
  await fits("lobby", [alice, ".lobby #start"], [bob, ".lobby"]);

  log("the TV shows both players; a name is text, never markup");
  await waitText(tv, "#players", /Alice/);
  await waitText(tv, "#players", new RegExp(escape(markup)));
  assert((await tv.locator("#players b").count()) === 0, "a name's markup is shown as text");
  assert((await bob.locator(".bar b#score").count()) === 1 && (await bob.locator("#me b").count()) === 0, "the phone shows it as text too");

  log("Bob changes his name");
  await bob.locator("#change-name").tap();
  await bob.locator("#rename").waitFor({ timeout: WAIT });
  await fits("rename", [bob, ".rename"]);
  await bob.locator("#rename").fill("Bob");
  await bob.locator("#rename-save").tap();
  await waitText(bob, "#me", /^Bob$/);
  await waitText(tv, "#players", /^(?!.*<b>).*Bob/);
  await shot(bob, "trivia-phone-lobby.png");

  log("the bots join");
  await control("POST", "/bots");
  await waitText(tv, "#player-count", new RegExp(`^${2 + BOTS.length}$`));
  for (const name of BOTS) await waitText(tv, "#players", new RegExp(escape(name)));
  await shot(tv, "trivia-tv-lobby.png");
  await fits("lobby", [tv, ".lobby"]);

  log("the host starts the game; every page says to get ready");
  await alice.locator("#start").tap();
  // This screen lasts the room's pause (tests/browser.rs gives it 15 s).
  for (const page of [tv, alice, bob]) await page.locator("main.starting").waitFor({ timeout: WAIT });
  await fits("get ready", [tv, "main.starting"], [alice, "main.starting"], [bob, "main.starting"]);

  log("question 1 opens");
  const [q1, q2] = QUESTIONS;
  for (const page of [tv, alice, bob]) await waitText(page, "#question", new RegExp("^" + escape(q1.text) + "$"));
  await waitText(alice, "#qnum", /Question 1 of 2/);
  const left = Number(await waitText(alice, "#seconds", /^\d+$/));
  assert(left > 0 && left <= 60, `the countdown shows a sensible time (${left})`);
  await shot(bob, "trivia-phone-question.png");
  await fits("question", [bob, "#pad"]);

  log("Alice answers question 1 right; the TV sees that she answered");
  const wrong1 = (q1.answer + 1) % 4;
  await alice.locator(`#pad .answer[data-choice="${q1.answer}"]`).tap();
  await waitText(alice, "#locked h1", /Answer locked in/);
  await tv.waitForSelector(`#players .chip.done:has-text("Alice")`, { timeout: WAIT });
  await shot(tv, "trivia-tv-question.png");
  await shot(alice, "trivia-phone-locked.png");
  await fits("question", [tv, "main.round:not(.revealed)"]);
  await fits("answered", [alice, "#locked"]);

  log("Bob answers question 1 wrong; each phone shows its own result, the TV the scoreboard");
  await bob.locator(`#pad .answer[data-choice="${wrong1}"]`).tap();
  // The reveal stays up for a few seconds: check the three screens at once.
  const aliceResult = await result(alice, 1);
  const alicePoints = Number(aliceResult.points);
  const shown = alicePoints.toLocaleString("en-US");
  await Promise.all([
    (async () => {
      assert(aliceResult.kind === "correct", "Alice was right");
      assert(alicePoints >= 500 && alicePoints <= 1000, `a right answer scores 500 to 1000 (${alicePoints})`);
      await waitText(alice, "#points", new RegExp(`\\+${shown} points`));
      await waitText(alice, "#score", new RegExp(`^${shown}$`));
    })(),
    (async () => {
      const bobResult = await result(bob, 1);
      assert(bobResult.kind === "wrong", "Bob was wrong");
      assert(bobResult.points === "0", "a wrong answer scores 0");
      await waitText(bob, "#points", /\+0 points/);
      await waitText(bob, "#result .chose", new RegExp(escape(q1.choices[wrong1])));
      await waitText(bob, "#score", /^0$/);
      // Alice's points are hers alone: Bob's page never shows them.
      const bobText = await bob.locator("body").textContent();
      assert(!bobText.includes(shown), `Bob's page does not show Alice's ${shown}`);
    })(),
    (async () => {
      await tv.waitForSelector(`#answers .answer.correct[data-choice="${q1.answer}"]`, { timeout: WAIT });
      await waitText(tv, `#scoreboard li:has-text("Alice")`, new RegExp(`\\+${shown}`));
      await waitText(tv, `#scoreboard li:has-text("Bob")`, /0$/);
    })(),
  ]);
  await Promise.all([
    shot(tv, "trivia-tv-reveal.png"),
    shot(alice, "trivia-phone-result.png"),
    shot(bob, "trivia-phone-result-wrong.png"),
  ]);
  // Within the room's pause, like the screenshots.
  await fits("reveal", [tv, "main.round.revealed"], [alice, '#result[data-number="1"]'], [bob, '#result[data-number="1"]']);

  log("question 2 opens; Alice's phone reloads and is the same player");
  for (const page of [tv, alice, bob]) await waitText(page, "#question", new RegExp("^" + escape(q2.text) + "$"));
  // A few seconds into the question, so a page that lost track of time
  // (and showed all 60 again) would be caught.
  const before = Number(await waitText(alice, "#seconds", /^([0-9]|[1-4][0-9]|5[0-7])$/, "the countdown at 57 or less"));
  await alice.reload();
  await waitText(alice, "#me", /^Alice$/);
  await waitText(alice, "#qnum", /Question 2 of 2/);
  await waitText(alice, "#question", new RegExp("^" + escape(q2.text) + "$"));
  await waitText(alice, "#score", new RegExp(`^${alicePoints.toLocaleString("en-US")}$`));
  assert((await alice.locator(".bar .badge").count()) === 1, "Alice is still the host");
  const after = Number(await waitText(alice, "#seconds", /^\d+$/));
  assert(after > 0 && after <= before + 1, `the countdown goes on after a reload (${before} s, then ${after} s)`);

  log("Bob loses the room mid-question: he sees it, reconnects and answers");
  assert(await bob.locator("#link").isHidden(), "Bob's page says it is reconnecting before anything was cut");
  cut = true;
  const { connections } = await control("POST", "/down");
  // The page says so, and keeps the open question while the stream is down...
  await waitText(bob, "#link:visible", /^Reconnecting…$/, "Bob's page saying it is reconnecting");
  await waitText(bob, "#question", new RegExp("^" + escape(q2.text) + "$"));
  await shot(bob, "trivia-phone-reconnecting.png");
  await fits("reconnecting", [bob, "#link:visible"]);
  await control("POST", "/up");
  // ...and reopens the stream by itself once the room answers: the notice
  // goes, on a new connection through the proxy (the page sends nothing
  // else meanwhile).
  await bob.locator("#link").waitFor({ state: "hidden", timeout: WAIT });
  const now = (await control("GET", "/connections")).connections;
  assert(now > connections, `Bob's page reconnected through the proxy (${connections} connections before, ${now} after)`);
  await waitText(bob, "#question", new RegExp("^" + escape(q2.text) + "$"));
  await alice.locator(`#pad .answer[data-choice="${q2.answer}"]`).tap();
  await bob.locator(`#pad .answer[data-choice="${q2.answer}"]`).tap();
  // The reveal and Bob's private result were sent after the cut: he gets
  // them on the reopened stream.
  const bob2 = await result(bob, 2);
  assert(bob2.kind === "correct", "Bob was right this time");
  assert((await result(alice, 2)).kind === "correct", "Alice was right again");
  const bobPoints = Number(bob2.points);
  assert(bobPoints >= 500, `Bob scored (${bobPoints})`);
  await waitText(bob, "#score", new RegExp(`^${bobPoints.toLocaleString("en-US")}$`));

  log("the game ends: final standings on the TV, places on the phones");
  await waitText(tv, "#final", /Alice/);
  await waitText(tv, ".final", /Bob/);
  await alice.locator("#finished").waitFor({ timeout: WAIT });
  await bob.locator("#finished").waitFor({ timeout: WAIT });
  await alice.locator("#start").waitFor({ timeout: WAIT });
  await waitText(alice, "#start", /Play again/);
  await shot(tv, "trivia-tv-final.png");
  await shot(alice, "trivia-phone-final.png");
  await fits("final", [tv, "main.final"], [alice, "#finished #start"], [bob, "#finished"]);

  assert(errors.length === 0, `no errors or failed requests on the pages:\n  ${errors.join("\n  ")}`);
  console.log("browser test passed");
} catch (err) {
  console.error(`FAILED at "${currentStep()}": ${err.stack || err}`);
  for (const [name, page] of Object.entries(pages)) {
    await page.screenshot({ path: `${SHOTS}/trivia-failed-${name}.png` }).catch(() => {});
  }
  if (errors.length) console.error(`errors on the pages:\n  ${errors.join("\n  ")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
