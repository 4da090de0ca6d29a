// The start page of a host of trivia rooms, served at its root (`/`): a TV
// hosts a game (`POST /rex/v0/rooms`, then the new room's TV page at
// `/r/KXQF/`), a phone types the code a TV shows and goes to that room's
// phone page (`/r/KXQF/play`). A code is checked here first (four letters
// of the codes' alphabet, in any case), then against the host (the room's
// `/rex/v0/info`), so a mistyped or ended game is explained on this page,
// in the host's own words.

import { BASE } from "./room.js";

/** The letters of room codes: no vowels, no look-alikes (as rex-proto's `ROOM_CODE_ALPHABET`). */
const ALPHABET = "CDFGHJKMNPQRTVWX";
const CODE_LENGTH = 4;

const hostButton = /** @type {HTMLButtonElement} */ (document.getElementById("host-button"));
const hostError = /** @type {HTMLElement} */ (document.getElementById("host-error"));
const joinForm = /** @type {HTMLFormElement} */ (document.getElementById("join-form"));
const joinButton = /** @type {HTMLButtonElement} */ (document.getElementById("join-button"));
const codeInput = /** @type {HTMLInputElement} */ (document.getElementById("code"));
const joinError = /** @type {HTMLElement} */ (document.getElementById("join-error"));

fetch(new URL("rex/v0/host", BASE))
  .then((r) => (r.ok ? r.json() : null))
  .then((host) => {
    if (!host || typeof host.name !== "string" || !host.name) return;
    document.title = host.name;
    const title = document.getElementById("host-name");
    if (title) title.textContent = host.name;
  })
  .catch(() => {});

hostButton.addEventListener("click", hostGame);
joinForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  joinGame();
});
codeInput.addEventListener("input", () => say(joinError, null));

/** Shows `text` in `box`, or hides it (`null`). */
function say(box, text) {
  box.textContent = text || "";
  box.hidden = !text;
}

/** The reason of an error answer (`{error, reason}`), or what to say instead. */
async function reasonOf(response, otherwise) {
  try {
    const body = await response.json();
    if (body && typeof body.reason === "string" && body.reason) return body.reason;
  } catch (_) {
    // Not the protocol's JSON: say what we know.
  }
  return otherwise;
}

async function hostGame() {
  hostButton.disabled = true;
  say(hostError, null);
  try {
    const response = await fetch(new URL("rex/v0/rooms", BASE), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    if (response.status !== 201) {
      say(hostError, `No game was opened: ${await reasonOf(response, `the server answered ${response.status}`)}`);
      return;
    }
    const created = await response.json();
    location.assign(new URL(`${created.path.replace(/^\//, "")}/`, BASE));
  } catch (err) {
    say(hostError, `No game was opened: could not reach the server (${(err && err.message) || err})`);
  } finally {
    hostButton.disabled = false;
  }
}

/**
 * What is wrong with `code` as typed (already upper case), in words a
 * player can act on; null if it is a code.
 * @param {string} code
 */
export function codeProblem(code) {
  if (!code) return "Type the four letters the TV shows.";
  const stray = [...code].find((c) => !ALPHABET.includes(c));
  if (stray !== undefined) {
    const what = /[A-Z]/.test(stray) ? `the letter ${stray}` : `“${stray}”`;
    return `Room codes never have ${what}: they use only ${ALPHABET.split("").join(" ")}. Check the code on the TV.`;
  }
  if (code.length !== CODE_LENGTH) return `A room code has ${CODE_LENGTH} letters; that is ${code.length}. Check the code on the TV.`;
  return null;
}

async function joinGame() {
  const code = codeInput.value.replace(/\s+/g, "").toUpperCase();
  const problem = codeProblem(code);
  if (problem) {
    say(joinError, problem);
    codeInput.focus();
    return;
  }
  joinButton.disabled = true;
  say(joinError, null);
  try {
    // `manual`: on a host of a group (`--redis`) another host may serve
    // the game and this one answers 307; the page's script may not read
    // another host, but the phone page's own navigation follows it.
    const response = await fetch(new URL(`r/${code}/rex/v0/info`, BASE), { redirect: "manual" });
    if (response.ok || response.type === "opaqueredirect") {
      location.assign(new URL(`r/${code}/play`, BASE));
      return;
    }
    // 404: no such room; 410: it ended. The host says which.
    say(joinError, await reasonOf(response, `The server answered ${response.status}; check the code on the TV.`));
  } catch (err) {
    say(joinError, `Could not reach the server (${(err && err.message) || err}).`);
  } finally {
    joinButton.disabled = false;
  }
}
