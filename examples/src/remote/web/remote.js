// The browser remote: a touch page the TV serves at `/`, for phones and
// tablets on the same network.
//
// It starts from the TV's snapshot (the whole `PlayerView` at a log index)
// and applies every event after it (view.js), so a page opened late shows
// the current state at once, and every remote, whoever pressed what, shows
// the TV's state. The buttons only ask: the TV decides, and its events
// change the screen. Track names are only ever put in the page as text.

import { RexClient, RexError } from "/rex/v0/client.js";
import * as player from "/view.js";

// The TV's protocol as types (protocol.d.ts, generated from its schema by
// `rex types`): tsc checks this page against it (tsconfig.json here,
// tests/types.rs), so a misspelled kind or field fails a test, with its line.
/** @typedef {import("./protocol.js").Client} Client */
/** @typedef {import("./protocol.js").MessageKind} MessageKind */
/** @typedef {import("./protocol.js").Snapshot} View */

/** Where the page keeps the name it asked for once. */
const NAME_KEY = "rex-remote:name";
/** How far the seek buttons jump. */
const SEEK_MS = 10_000;

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What the browser test reads (and what you would look at in devtools):
// the view, the snapshot it started from, and the events applied since.
const shown = /** @type {typeof window & {
  remoteView: View | null,
  remoteSnapshotIndex: number | null,
  remoteFirstEventIndex: number | null,
  remoteEvents: number,
  remoteNext: number | null,
}} */ (window);
shown.remoteView = null;
shown.remoteSnapshotIndex = null;
shown.remoteFirstEventIndex = null;
shown.remoteEvents = 0;
shown.remoteNext = null;

/** @type {Client | null} The TV's client, typed by its protocol. */
let rex = null;
let name = "phone";
/** The player as the snapshot and the events after it say; null before. */
let view = null;
/** The epoch of the log `view` follows. */
let epoch = null;
let subscription = null;
let rejoining = null;

function storage() {
  try {
    return window.localStorage;
  } catch (_) {
    return null; // private mode, or storage disabled
  }
}

/** The remote's name: from `?name=`, or the one given before, or asked once. */
function askName() {
  const store = storage();
  const given = (new URLSearchParams(location.search).get("name") || "").trim();
  if (given) {
    if (store) store.setItem(NAME_KEY, given);
    return Promise.resolve(given);
  }
  const saved = store && store.getItem(NAME_KEY);
  if (saved) return Promise.resolve(saved);
  const form = $("join");
  form.hidden = false;
  return new Promise((resolve) => {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const chosen = /** @type {HTMLInputElement} */ ($("name")).value.trim() || "phone";
      if (store) store.setItem(NAME_KEY, chosen);
      form.hidden = true;
      resolve(chosen);
    });
  });
}

/** The TV's PIN, from the link it printed (`/?pin=…`); null without one. */
const pin = new URLSearchParams(location.search).get("pin");

/** @returns {Promise<Client>} connected, after as many tries as it takes */
async function connect() {
  for (let attempt = 0; ; attempt++) {
    try {
      return /** @type {Client} */ (await RexClient.connect(pin ? { name, pin } : { name }));
    } catch (e) {
      if (e.code === "forbidden") {
        // Retrying cannot fix a wrong or missing PIN: say so and stop.
        setLink("offline", `cannot join: ${e.reason}. Open the link the TV printed.`);
        return new Promise(() => {});
      }
      setLink("offline", "cannot reach the TV; retrying…");
      await sleep(Math.min(5_000, 250 * 2 ** attempt));
    }
  }
}

/** The snapshot, then the log after it; again after anything it cannot follow. */
function subscribe() {
  if (subscription) subscription.close();
  subscription = rex.events({
    snapshot: true,
    onSnapshot(record) {
      view = player.fromSnapshot(record.data);
      epoch = record.epoch;
      shown.remoteView = view;
      shown.remoteSnapshotIndex = record.index;
      shown.remoteFirstEventIndex = null;
      shown.remoteEvents = 0;
      shown.remoteNext = record.index;
      render();
    },
    onEvent(event) {
      if (!view) return;
      if (!player.apply(view, event)) {
        // A kind this page does not know (a newer TV): the view would go
        // wrong from here; a new snapshot has the event's effect.
        subscribe();
        return;
      }
      if (shown.remoteFirstEventIndex === null) shown.remoteFirstEventIndex = event.index;
      shown.remoteEvents++;
      shown.remoteNext = event.index + 1;
      render();
    },
    onResync(resync) {
      // The TV restarted: this page's session went with the old log.
      // (Events missed in the same log need nothing here: the client
      // takes a new snapshot by itself.)
      if (resync.epoch !== epoch) rejoin();
    },
    // Whether the TV is in reach is what the stream says of its connection:
    // it hears a loss at once, and each attempt to reopen that fails.
    onConnection(connection) {
      if (connection.state === "connected") {
        setLink("live");
      } else {
        const failed = connection.attempts === 1 ? "1 attempt failed" : `${connection.attempts} attempts failed`;
        setLink("offline", connection.attempts === 0 ? "lost the TV" : `the TV does not answer (${failed})`);
      }
    },
    onError(error) {
      setLink("offline", error.reason);
      setTimeout(subscribe, 2_000);
    },
  });
}

/** A new session after the TV restarted; one at a time. */
function rejoin() {
  if (!rejoining) {
    rejoining = rex.rejoin(name).finally(() => {
      rejoining = null;
    });
  }
  return rejoining;
}

/**
 * Asks the TV; a refusal's reason (or the trouble) shows as a toast.
 * `data` is checked against `kind` (protocol.d.ts).
 * @template {MessageKind} K
 * @param {K} kind
 * @param {import("./protocol.js").SendData<K>} data
 */
async function send(kind, ...data) {
  if (!rex) return null;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return await rex.send(kind, ...data);
    } catch (e) {
      if (!(e instanceof RexError)) throw e;
      if (e.code === "unauthorized" && attempt === 0) {
        await rejoin().catch(() => {});
        continue;
      }
      if (e.code === "rejected") {
        toast(e.reason, "rejected");
      } else {
        toast("The TV did not get that: " + e.reason, "error");
      }
      return null;
    }
  }
  return null;
}

// ---- drawing ----------------------------------------------------------

function setLink(state, why) {
  const link = $("link");
  link.dataset.state = state;
  link.textContent = state === "live" ? "live" : state === "offline" ? "reconnecting…" : "connecting…";
  link.title = why || "";
}

function trackName(id) {
  const track = player.trackById(view, id);
  return track ? track.title : `track ${id}`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Redraws everything but the moving progress, from `view`. */
function render() {
  if (!view) return;
  const track = player.current(view);
  // The playlist's number, as the list and the terminal remote show it
  // (not the play order, which disagrees with the list while shuffled).
  const where = player.place(view);
  $("state").textContent = (view.playing ? "Playing" : "Paused") + (where ? ` · ${where}` : "");
  $("state").dataset.playing = String(view.playing);
  $("title").textContent = track ? track.title : "The playlist is empty";
  $("artist").textContent = track ? track.artist : "";
  $("duration").textContent = player.clock(track ? track.duration_ms : 0);
  $("bar").setAttribute("aria-valuemax", String(track ? track.duration_ms : 0));

  const play = $("play");
  play.classList.toggle("playing", view.playing);
  play.setAttribute("aria-label", view.playing ? "Pause" : "Play");

  $("volume").textContent = view.muted ? `muted · ${view.volume}` : String(view.volume);
  $("volume-fill").style.width = `${view.volume}%`;
  $("volume-fill").classList.toggle("muted", view.muted);
  $("mute").setAttribute("aria-pressed", String(view.muted));
  $("mute").textContent = view.muted ? "Unmute" : "Mute";
  $("shuffle").setAttribute("aria-pressed", String(view.shuffle));

  const queue = $("queue");
  queue.replaceChildren(
    ...view.queue.map((id) => {
      const item = el("li");
      const t = player.trackById(view, id);
      item.append(el("span", "name", t ? t.title : `track ${id}`), el("span", "by", t ? t.artist : ""));
      return item;
    }),
  );
  $("queue-count").textContent = view.queue.length ? String(view.queue.length) : "";
  queue.hidden = view.queue.length === 0;
  const after = view.order[view.cursor + 1];
  $("then").textContent =
    (view.queue.length ? "" : "Nothing queued. ") +
    (after === undefined ? "The playlist ends here." : `Then ${trackName(after)}.`);

  const queued = new Set(view.queue);
  $("playlist").replaceChildren(
    ...view.tracks.map((t) => {
      const item = el("li");
      const button = el("button", "row");
      button.type = "button";
      button.dataset.track = String(t.id);
      button.classList.toggle("current", t.id === view.track);
      button.classList.toggle("queued", queued.has(t.id));
      const text = el("span", "text");
      text.append(el("span", "name", t.title), el("span", "by", t.artist));
      button.append(el("span", "num", String(player.number(view, t.id))), text, el("span", "len", player.clock(t.duration_ms)));
      button.setAttribute("aria-label", `Queue ${t.title} by ${t.artist}`);
      item.append(button);
      return item;
    }),
  );
  drawProgress();
}

let shownElapsed = null;

/** The progress bar and elapsed time, from the TV's clock as estimated now. */
function drawProgress() {
  if (!view) return;
  const track = player.current(view);
  const position = track ? player.positionAt(view, rex.serverTime()) : 0;
  const ratio = track && track.duration_ms > 0 ? position / track.duration_ms : 0;
  $("fill").style.transform = `scaleX(${ratio})`;
  const elapsed = player.clock(position);
  if (elapsed !== shownElapsed) {
    $("elapsed").textContent = elapsed;
    $("bar").setAttribute("aria-valuenow", String(position));
    shownElapsed = elapsed;
  }
}

function animate() {
  drawProgress();
  requestAnimationFrame(animate);
}

let toastTimer = null;

function toast(text, kind) {
  const box = $("toast");
  // The TV's reasons are sentences that start in lower case.
  box.textContent = text.charAt(0).toUpperCase() + text.slice(1);
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, 5_000);
}

// ---- input ------------------------------------------------------------

function wire() {
  const on = (id, handler) => $(id).addEventListener("click", handler);
  on("play", () => view && send(view.playing ? "pause" : "play"));
  on("previous", () => send("previous"));
  on("next", () => send("next"));
  on("back", () => send("seek_by", { offset_ms: -SEEK_MS }));
  on("forward", () => send("seek_by", { offset_ms: SEEK_MS }));
  on("volume-down", () => send("volume_down"));
  on("volume-up", () => send("volume_up"));
  on("mute", () => view && send("mute", { muted: !view.muted }));
  on("shuffle", () => view && send("shuffle", { on: !view.shuffle }));
  on("toast", () => {
    $("toast").hidden = true;
  });

  // Tap the bar to seek there.
  const bar = $("bar");
  bar.addEventListener("click", (e) => {
    const track = view && player.current(view);
    if (!track) return;
    const rect = bar.getBoundingClientRect();
    const ratio = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
    send("seek", { position_ms: Math.floor(ratio * track.duration_ms) });
  });
  bar.addEventListener("keydown", (e) => {
    if (e.key === "ArrowLeft") send("seek_by", { offset_ms: -SEEK_MS });
    if (e.key === "ArrowRight") send("seek_by", { offset_ms: SEEK_MS });
  });

  // Tap a track to queue it.
  $("playlist").addEventListener("click", async (e) => {
    const row = /** @type {HTMLElement | null} */ (/** @type {Element} */ (e.target).closest("button[data-track]"));
    if (!row || !view) return;
    const id = Number(row.dataset.track);
    if (await send("queue", { track: id })) toast(`Queued “${trackName(id)}”`, "info");
  });
}

async function main() {
  name = await askName();
  $("remote").hidden = false;
  wire();
  rex = await connect();
  $("tv").textContent = (rex.info && rex.info.name) || "TV";
  document.title = `Remote · ${$("tv").textContent}`;
  subscribe();
  requestAnimationFrame(animate);
}

main();
