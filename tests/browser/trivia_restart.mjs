// The trivia pages across a crash of the room: the TV (at /) and two
// phones (at /play) in headless Chromium, driven with playwright-core,
// against the trivia example binary run with `--data`. Started by
// tests/browser.rs, which passes:
//
//   REX_URL          the trivia room
//   REX_CONTROL_URL  POST /kill kills the room with SIGKILL (and waits
//                    until it is gone); POST /restart starts it again on
//                    the same port with the same `--data` (and waits until
//                    it listens)
//   REX_SHOTS        where to save screenshots of a failure
//   REX_CHROMIUM     the browser to launch (/usr/bin/chromium)
//   REX_QUESTIONS    the questions: [{text, choices, answer}] (the room
//                    shuffles them; the script finds each by its text)
//
// Alice answers question 1, the room is killed before Bob answers, and
// started again. Nobody reloads a page: each page reconnects by itself
// (the phones say "Reconnecting…" meanwhile) and carries on where it was,
// without reloading itself either (a page that got a resync would reload:
// a mark left in each page before the crash must still be there). Bob then
// answers, each phone gets its result and score, the TV its scoreboard,
// and question 2 and the final standings work as in any game.
//
// Every check waits for what a person would see, with a generous timeout;
// nothing sleeps and hopes. No page may log an error or a failed request,
// except network errors while the room is down.

import { launch } from "./chromium.mjs";
import * as script from "./script.mjs";
import { assert, currentStep, escape, log, need } from "./script.mjs";
import { watch } from "./checks.mjs";

const URL = need("REX_URL");
const CONTROL_URL = need("REX_CONTROL_URL");
const SHOTS = need("REX_SHOTS");
const CHROMIUM = need("REX_CHROMIUM");
const QUESTIONS = JSON.parse(need("REX_QUESTIONS"));
const WAIT = 45_000;

const control = (method, path) => script.control(CONTROL_URL, method, path);
const waitText = (page, selector, pattern, what) => script.waitText(page, selector, pattern, WAIT, what);
const result = (page, number) => script.result(page, number, WAIT);




/** The open question as `page` shows it, looked up in the key. */
async function openQuestion(page, number) {
  await waitText(page, "#qnum", new RegExp(`Question ${number} of 2`));
  const text = (await page.locator("#question").textContent()).trim();
  const question = QUESTIONS.find((q) => q.text === text);
  assert(question, `question ${number} on ${page.rexName} is one of ours: ${JSON.stringify(text)}`);
  return question;
}

/** Leaves a mark in each page that only a reload would wipe. */
async function mark(pages) {
  for (const page of pages) await page.evaluate(() => (globalThis.rexNotReloaded = true));
}

async function assertNotReloaded(pages) {
  for (const page of pages) {
    assert(await page.evaluate(() => globalThis.rexNotReloaded === true), `${page.rexName}'s page was not reloaded`);
  }
}

const browser = await launch(CHROMIUM);
const pages = [];
const errors = [];
// Set while the room is down (and until every page is known to be back):
// network errors are expected then.
let down = false;

async function open(name, url, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  watch(page, name, errors, (what) => down && /net::ERR_/.test(what));
  page.rexName = name;
  await page.goto(url);
  pages.push(page);
  return page;
}

const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true };

async function join(page, name) {
  await page.locator("#name").waitFor({ timeout: WAIT });
  await page.locator("#name").fill(name);
  await page.locator("#join-button").tap();
  await waitText(page, "#me", new RegExp(`^${name}$`));
}

try {
  log("the TV opens the room; Alice and Bob join on their phones");
  const tv = await open("tv", URL + "/", { viewport: { width: 1920, height: 1080 } });
  const alice = await open("alice", URL + "/play", phone);
  const bob = await open("bob", URL + "/play", phone);
  await join(alice, "Alice");
  await join(bob, "Bob");
  await waitText(tv, "#players", /Alice/);
  await waitText(tv, "#players", /Bob/);

  log("Alice starts the game; question 1 opens");
  await alice.locator("#start").tap();
  const q1 = await openQuestion(alice, 1);
  for (const page of [tv, bob]) await waitText(page, "#question", new RegExp("^" + escape(q1.text) + "$"));

  log("Alice answers question 1 right; the TV sees it");
  await alice.locator(`#pad .answer[data-choice="${q1.answer}"]`).tap();
  await waitText(alice, "#locked h1", /Answer locked in/);
  await tv.waitForSelector(`#players .chip.done:has-text("Alice")`, { timeout: WAIT });
  await mark(pages);

  log("the room is killed with SIGKILL: the phones say they are reconnecting");
  down = true;
  await control("POST", "/kill");
  for (const page of [alice, bob]) await waitText(page, "#link:visible", /^Reconnecting…$/, "the page saying it is reconnecting");

  log("the room starts again with the same --data: the phones reconnect by themselves");
  await control("POST", "/restart");
  for (const page of [alice, bob]) {
    await page.locator("#link").waitFor({ state: "hidden", timeout: WAIT }).catch((err) => {
      throw new Error(`${page.rexName}'s page did not reconnect: ${err.message.split("\n")[0]}`);
    });
  }
  // Where they were: the same question, Alice's answer locked in, Bob
  // still to answer, the TV with Alice done.
  await waitText(alice, "#locked h1", /Answer locked in/);
  await waitText(alice, "#qnum", /Question 1 of 2/);
  await waitText(bob, "#question", new RegExp("^" + escape(q1.text) + "$"));
  await tv.waitForSelector(`#players .chip.done:has-text("Alice")`, { timeout: WAIT });
  await assertNotReloaded(pages);

  log("Bob answers wrong: each phone shows its result, the TV the scoreboard");
  const wrong = (q1.answer + 1) % q1.choices.length;
  await bob.locator(`#pad .answer[data-choice="${wrong}"]`).tap();
  // The reveal stays up for the room's pause: check the three screens at once.
  let alicePoints = 0;
  await Promise.all([
    (async () => {
      const aliceResult = await result(alice, 1);
      alicePoints = Number(aliceResult.points);
      assert(aliceResult.kind === "correct", "Alice's answer from before the crash counted, and was right");
      assert(alicePoints >= 500 && alicePoints <= 1000, `a right answer scores 500 to 1000 (${alicePoints})`);
      await waitText(alice, "#score", new RegExp(`^${alicePoints.toLocaleString("en-US")}$`));
      await waitText(tv, `#scoreboard li:has-text("Alice")`, new RegExp(`\\+${alicePoints.toLocaleString("en-US")}`));
    })(),
    (async () => {
      const bobResult = await result(bob, 1);
      assert(bobResult.kind === "wrong" && bobResult.points === "0", "Bob was wrong and scored 0");
    })(),
    tv.waitForSelector(`#answers .answer.correct[data-choice="${q1.answer}"]`, { timeout: WAIT }),
  ]);
  // The TV's stream is live again too: the outage is over for every page.
  down = false;

  log("question 2 opens and works as in any game");
  const q2 = await openQuestion(bob, 2);
  for (const page of [tv, alice]) await waitText(page, "#question", new RegExp("^" + escape(q2.text) + "$"));
  await alice.locator(`#pad .answer[data-choice="${q2.answer}"]`).tap();
  await bob.locator(`#pad .answer[data-choice="${q2.answer}"]`).tap();
  const [alice2, bob2] = await Promise.all([result(alice, 2), result(bob, 2)]);
  assert(alice2.kind === "correct" && bob2.kind === "correct", "both were right");
  const aliceTotal = alicePoints + Number(alice2.points);
  assert(Number(alice2.total) === aliceTotal, `Alice's total is both questions' points (${alice2.total} = ${alicePoints} + ${alice2.points})`);
  await Promise.all([
    waitText(alice, "#score", new RegExp(`^${aliceTotal.toLocaleString("en-US")}$`)),
    waitText(bob, "#score", new RegExp(`^${Number(bob2.points).toLocaleString("en-US")}$`)),
  ]);

  log("the game ends: final standings on the TV, places on the phones");
  await waitText(tv, "#final", /Alice/);
  await alice.locator("#finished").waitFor({ timeout: WAIT });
  await bob.locator("#finished").waitFor({ timeout: WAIT });
  await assertNotReloaded(pages);

  assert(errors.length === 0, `no errors or failed requests on the pages:\n  ${errors.join("\n  ")}`);
  console.log("browser restart test passed");
} catch (err) {
  console.error(`FAILED at "${currentStep()}": ${err.stack || err}`);
  for (const page of pages) {
    await page.screenshot({ path: `${SHOTS}/trivia-restart-failed-${page.rexName}.png` }).catch(() => {});
  }
  if (errors.length) console.error(`errors on the pages:\n  ${errors.join("\n  ")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
