// What the browser scripts share: their environment, their steps (so a
// failure says where it was), and waiting for what a page shows.

/** The environment variable `name`, which the Rust test sets. */
export function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through \`cargo test -p rex-tests --test browser\``);
  return value;
}

let step = "starting";

/** Prints `text` as the step the script is at. */
export function log(text) {
  step = text;
  console.log(`· ${text}`);
}

/** The last step `log` printed, for the failure message. */
export function currentStep() {
  return step;
}

export function assert(ok, what) {
  if (!ok) throw new Error(`assertion failed: ${what}`);
}

/** `method path` on the test's control endpoint; its JSON answer. */
export async function control(controlUrl, method, path) {
  const response = await fetch(controlUrl + path, { method });
  assert(response.ok, `${method} ${path} answered ${response.status}`);
  return response.json();
}

/** `text`, with what a RegExp would read as syntax escaped. */
export function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Waits up to `timeout` ms until `selector` on `page` has text matching
 * `pattern` (a RegExp), and returns that text; a failure says what the
 * page shows instead.
 */
export async function waitText(page, selector, pattern, timeout, what = `${selector} ~ ${pattern}`) {
  const match = page.locator(selector).filter({ hasText: pattern }).first();
  try {
    await match.waitFor({ timeout });
    return (await match.textContent()).trim();
  } catch (err) {
    const now = await page.locator(selector).first().textContent({ timeout: 1000 }).catch(() => "(missing)");
    const on = page.rexName ? ` on ${page.rexName}` : "";
    throw new Error(`waiting${on} for ${what}: ${err.message.split("\n")[0]}; it shows ${JSON.stringify(now)}`);
  }
}

/**
 * Waits up to `timeout` ms for a trivia phone's private result of question
 * `number` and returns it as the page shows it: {kind, number, points,
 * total}.
 */
export async function result(page, number, timeout) {
  // `data-points` appears with the player's `result` event; the reveal
  // alone (which may be drawn a frame earlier) has none.
  const el = page.locator(`#result[data-number="${number}"][data-points]`);
  await el.waitFor({ timeout });
  return el.evaluate((e) => ({ ...e.dataset }));
}
