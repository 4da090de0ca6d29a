// The media player's touch remote (served by the TV at /) in headless
// Chromium, driven with playwright-core. Started by tests/remote_browser.rs,
// which passes:
//
//   REX_URL          the TV (a RemoteApp serving the page), paused at the
//                    start of the bundled playlist, volume 40
//   REX_CUT_URL      a fault-injection proxy to the same TV (one phone)
//   REX_CONTROL_URL  POST /queue?track=N: a typed Rust remote queues track N;
//                    POST /down: the proxy closes every connection before
//                    a byte of the answer; POST /up: it lets them through
//   REX_SHOTS        where to save screenshots
//   REX_CHROMIUM     the browser to launch (/usr/bin/chromium)
//
// Every check waits for what a person would see (with a generous timeout);
// nothing here sleeps and hopes. The pages expose their state for the
// checks: window.remoteView (the PlayerView they reduced),
// remoteSnapshotIndex (the snapshot they started from), remoteEvents and
// remoteFirstEventIndex (the events applied after it), remoteNext.
// Both screens (the name form and the remote) must fit their window at
// each size of `SIZES` (checks.mjs), the page must have an icon, and no
// page may log an error or a failed request but the TV's refusals (and
// the proxy's, on the phone behind it while it is down).

import { deepStrictEqual } from "node:assert/strict";
import { launch } from "./chromium.mjs";
import { assertFits, assertIcon, watch } from "./checks.mjs";

const URL = need("REX_URL");
const CUT_URL = need("REX_CUT_URL");
const CONTROL_URL = need("REX_CONTROL_URL");
const SHOTS = need("REX_SHOTS");
const CHROMIUM = need("REX_CHROMIUM");
const WAIT = 30_000;

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through \`cargo test -p rex-tests --test remote_browser\``);
  return value;
}

function log(text) {
  console.log(`· ${text}`);
}

function assert(ok, what) {
  if (!ok) throw new Error(`assertion failed: ${what}`);
}

async function control(path) {
  const response = await fetch(CONTROL_URL + path, { method: "POST" });
  assert(response.ok, `POST ${path} answered ${response.status}: ${await response.text()}`);
}

async function snapshot() {
  const response = await fetch(`${URL}/rex/v0/snapshot`);
  assert(response.ok, `GET /snapshot answered ${response.status}`);
  return response.json();
}

/** Waits until `selector`'s text matches `pattern`; returns the text. */
async function waitText(page, selector, pattern) {
  try {
    await page.locator(selector).filter({ hasText: pattern }).first().waitFor({ timeout: WAIT });
  } catch (err) {
    const now = await page.locator(selector).first().textContent({ timeout: 1_000 }).catch(() => "(missing)");
    throw new Error(`${page.remoteName}: waiting for ${selector} ~ ${pattern}: it shows ${JSON.stringify(now)}`);
  }
  return (await page.locator(selector).first().textContent()).trim();
}

/** Waits until `fn(arg)` is true in the page. */
async function waitFor(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: WAIT });
  } catch (err) {
    const view = await page.evaluate(() => window.remoteView).catch(() => null);
    throw new Error(`${page.remoteName}: waiting for ${what}; its view is ${JSON.stringify(view)}`);
  }
}

/** Taps the progress bar at `ratio` of its width (0 to 1). */
async function tapBar(page, ratio) {
  const bar = page.locator("#bar");
  const box = await bar.boundingBox();
  await bar.tap({ position: { x: box.width * ratio, y: box.height / 2 } });
}

/**
 * The page's view equals a fresh snapshot, field by field, once it has
 * applied every event before the snapshot's index.
 */
async function agreesWithTheTv(page) {
  const fresh = await snapshot();
  await waitFor(page, `index ${fresh.index}`, (index) => window.remoteNext >= index, fresh.index);
  const shown = await page.evaluate(() => ({ view: window.remoteView, next: window.remoteNext }));
  assert(shown.next === fresh.index, `${page.remoteName} is at ${shown.next}, the TV at ${fresh.index}`);
  deepStrictEqual(shown.view, fresh.data, `${page.remoteName}'s view is not the TV's snapshot`);
  return fresh;
}

const browser = await launch(CHROMIUM);

const problems = [];

/**
 * A refused command is a 409 answer, which Chromium also logs as a failed
 * resource load: that is the TV speaking, not a page error. Nothing else
 * is excused (a missing `/favicon.ico` is a 404 in the console).
 */
function refusal(what) {
  return /^409 POST /.test(what) || what.includes("the server responded with a status of 409");
}

/** A new page in its own context (own storage): a phone, portrait, touch. */
async function newPhone(name, excused = refusal) {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    hasTouch: true,
    isMobile: true,
  });
  const page = await context.newPage();
  page.remoteName = name;
  watch(page, name, problems, excused);
  return page;
}

/** A phone with the remote open as `name`, once it shows the TV's state. */
async function phone(name) {
  const page = await newPhone(name);
  await page.goto(`${URL}/?name=${encodeURIComponent(name)}`);
  await waitFor(page, "the first snapshot", () => window.remoteView !== null);
  await assertIcon(page, name);
  return page;
}

try {
  log("a phone new to the remote asks for a name");
  const fresh = await newPhone("new");
  await fresh.goto(`${URL}/`);
  await fresh.locator("#join").waitFor({ timeout: WAIT });
  await assertIcon(fresh, "new");
  await assertFits(fresh, "new", "name", "#join:not([hidden])");
  await fresh.context().close();

  log("two phones open the remote");
  const first = await snapshot();
  const firstTitle = first.data.tracks[first.data.track].title;
  const one = await phone("Ann");
  const two = await phone("Ben");
  for (const page of [one, two]) {
    await waitText(page, "#title", firstTitle);
    await waitText(page, "#volume", /^40$/);
    await waitText(page, "#state", /^Paused/);
    await waitText(page, "#tv", "Living room");
    await agreesWithTheTv(page);
  }

  log("phone 1 plays, turns the volume up twice and skips");
  await one.locator("#play").tap();
  await waitText(one, "#state", /^Playing/);
  await one.locator("#volume-up").tap();
  await waitText(one, "#volume", /^45$/);
  await one.locator("#volume-up").tap();
  await waitText(one, "#volume", /^50$/);
  await one.locator("#next").tap();
  await waitText(one, "#title", "Paper Satellites");

  log("phone 2 shows the same");
  await waitText(two, "#title", "Paper Satellites");
  await waitText(two, "#artist", "Mina Okafor");
  await waitText(two, "#volume", /^50$/);
  await waitText(two, "#state", /^Playing · track 2 of 12$/);
  await agreesWithTheTv(two);

  log("with shuffle on, the header and the list give the playing track one number");
  await two.locator("#shuffle").tap();
  await waitText(one, "#state", /^Playing · track 2 of 12 · \d+(st|nd|rd|th) in shuffle order$/);
  await waitText(two, "#state", /in shuffle order$/);
  for (const page of [one, two]) {
    const header = (await page.locator("#state").textContent()).match(/track (\d+) of 12/);
    const marked = await page.locator("#playlist button.current .num").textContent();
    assert(header && header[1] === marked.trim(), `header "${await page.locator("#state").textContent()}" vs the list's current row ${marked}`);
  }
  await two.locator("#shuffle").tap();
  await waitText(one, "#state", /^Playing · track \d+ of 12$/);

  log("phone 2 and a Rust remote queue tracks; phone 1 shows the queue");
  await two.locator('#playlist button[data-track="5"]').tap();
  await waitText(two, "#toast", "Queued “Fjord Echoes”");
  const queued = await fetch(`${CONTROL_URL}/queue?track=8`, { method: "POST" });
  assert(queued.ok, `the Rust remote could not queue: ${await queued.text()}`);
  await waitText(one, "#queue li:nth-child(1)", "Fjord Echoes");
  await waitText(one, "#queue li:nth-child(2)", "Cartographer's Waltz");
  await waitText(one, "#queue-count", /^2$/);
  await waitText(two, "#queue li:nth-child(2)", "Cartographer's Waltz");

  log("phone 1 taps the bar to seek; the progress moves");
  await tapBar(one, 0.4);
  await waitFor(one, "the seek", () => window.remoteView.position_ms > 70_000);
  await waitText(two, "#elapsed", /^1:[12]\d$/);
  await one.screenshot({ path: `${SHOTS}/remote-phone.png` });

  log("a seek past the end shows the TV's reason");
  await one.locator("#play").tap();
  await waitText(one, "#state", /^Paused/);
  await tapBar(one, 0.97);
  await waitFor(one, "the seek near the end", () => window.remoteView.position_ms > 185_000);
  await one.locator("#forward").tap();
  const reason = await waitText(one, "#toast", "would pass the end of “Paper Satellites”");
  assert(/^Seeking \+10 s from 3:1\d would pass the end/.test(reason), `the toast says ${reason}`);
  // The reason is for who asked; phone 2 may still show its own "Queued".
  const other = (await two.locator("#toast").textContent()) || "";
  assert(!other.includes("would pass the end"), "phone 2 shows phone 1's refusal");
  await one.screenshot({ path: `${SHOTS}/remote-phone-refused.png` });
  await agreesWithTheTv(one);
  // The fullest screen: a queue, and the reason in the toast.
  await assertFits(one, "Ann", "remote", "#remote:not([hidden]) #queue li + li");

  log("a third page opened late shows the state at once, from the snapshot");
  const before = await snapshot();
  const three = await phone("Cy");
  const late = await three.evaluate(() => ({
    view: window.remoteView,
    snapshotIndex: window.remoteSnapshotIndex,
    events: window.remoteEvents,
  }));
  assert(late.snapshotIndex === before.index, `the late page started at ${late.snapshotIndex}, the TV is at ${before.index}`);
  assert(late.snapshotIndex > 5, `the log is only ${late.snapshotIndex} long`);
  assert(late.events === 0, `the late page applied ${late.events} events before anything happened`);
  deepStrictEqual(late.view, before.data, "the late page's first view is not the snapshot");
  await waitText(three, "#title", "Paper Satellites");
  await waitText(three, "#volume", /^50$/);
  await waitText(three, "#queue li:nth-child(2)", "Cartographer's Waltz");
  await waitText(three, "#state", /^Paused/);
  await three.screenshot({ path: `${SHOTS}/remote-late.png` });

  log("the late page follows the log from the snapshot's index");
  await one.locator("#volume-down").tap();
  await waitText(three, "#volume", /^45$/);
  const followed = await three.evaluate(() => ({
    snapshotIndex: window.remoteSnapshotIndex,
    first: window.remoteFirstEventIndex,
    events: window.remoteEvents,
  }));
  assert(followed.first >= followed.snapshotIndex, `first event ${followed.first} < snapshot ${followed.snapshotIndex}`);
  assert(followed.events === 1, `the late page applied ${followed.events} events for one change`);

  log("every page shows exactly the TV's snapshot");
  for (const page of [one, two, three]) {
    await agreesWithTheTv(page);
    await waitText(page, "#volume", /^45$/);
  }

  log("a phone behind a proxy says reconnecting… while the TV is out of reach, then live");
  // From the proxy's first refusal on, its failed requests are expected.
  let down = false;
  const cut = await newPhone("Di", (what) => refusal(what) || (down && /net::ERR_/.test(what)));
  await cut.goto(`${CUT_URL}/?name=Di`);
  await waitFor(cut, "the first snapshot", () => window.remoteView !== null);
  await waitText(cut, "#link", /^live$/);
  down = true;
  await control("/down");
  await waitText(cut, "#link", /^reconnecting…$/);
  await waitFor(cut, "a failed attempt on the link's title", () => /attempts? failed/.test(document.getElementById("link").title));
  await cut.screenshot({ path: `${SHOTS}/remote-reconnecting.png` });
  await assertFits(cut, "Di", "reconnecting", '#link[data-state="offline"]');
  // The TV changes meanwhile; the phone catches up once it is back.
  await control("/queue?track=3");
  await control("/up");
  await waitText(cut, "#link", /^live$/);
  await agreesWithTheTv(cut);
  await waitText(cut, "#queue li:nth-child(3)", "Night Shift at the Observatory");

  assert(problems.length === 0, `no errors or failed requests on the pages:\n  ${problems.join("\n  ")}`);
  log("ok");
} finally {
  await browser.close();
}
