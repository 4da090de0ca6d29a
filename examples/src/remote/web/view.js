// The player's state as every remote shows it: the JavaScript twin of
// `PlayerView` (examples/src/remote/view.rs), with the same field names as
// its JSON, so a page that starts from the TV's snapshot and applies the
// events after it holds exactly what the TV's snapshot says at that index.
//
// `apply` must mirror `PlayerView::apply` assignment for assignment: the
// browser test compares the page's view with a fresh snapshot, field by
// field.

/** @typedef {import("./protocol.js").Snapshot} View the TV's `PlayerView` */
/** @typedef {import("./protocol.js").Event} Event */

/** The event kinds `apply` knows; any other means the view cannot follow. */
export const KINDS = ["playing", "paused", "seeked", "track_changed", "volume", "shuffled", "queued"];

/**
 * A deep copy of a snapshot's `data`, to be moved forward by `apply`.
 * @param {View} data
 * @returns {View}
 */
export function fromSnapshot(data) {
  return JSON.parse(JSON.stringify(data));
}

/**
 * Moves `view` forward by one event `{kind, data}` (in place). Returns
 * false, changing nothing, for a kind it does not know. `switch` on
 * `event.kind` narrows `event.data` to that kind's type.
 * @param {View} view
 * @param {Event} event
 * @returns {boolean}
 */
export function apply(view, event) {
  switch (event.kind) {
    case "playing": {
      const d = event.data;
      view.playing = true;
      view.position_ms = d.position_ms;
      view.at_ms = d.at_ms;
      return true;
    }
    case "paused": {
      const d = event.data;
      view.playing = false;
      view.position_ms = d.position_ms;
      view.at_ms = d.at_ms;
      return true;
    }
    case "seeked": {
      const d = event.data;
      view.position_ms = d.position_ms;
      view.at_ms = d.at_ms;
      return true;
    }
    case "track_changed": {
      const d = event.data;
      view.track = d.track;
      view.cursor = d.cursor;
      view.from_queue = d.from_queue;
      view.queue = [...d.queue];
      view.playing = d.playing;
      view.position_ms = d.position_ms;
      view.at_ms = d.at_ms;
      return true;
    }
    case "volume":
      view.volume = event.data.level;
      view.muted = event.data.muted;
      return true;
    case "shuffled": {
      const d = event.data;
      view.shuffle = d.on;
      view.order = [...d.order];
      view.cursor = d.cursor;
      return true;
    }
    case "queued":
      view.queue = [...event.data.queue];
      return true;
    default:
      return false;
  }
}

/**
 * A track by id, or null.
 * @param {View} view
 * @param {number} id
 */
export function trackById(view, id) {
  const track = view.tracks[id];
  return track && track.id === id ? track : null;
}

/**
 * A track's number in the playlist, from 1 (as `PlayerView::number`), or null.
 * @param {View} view
 * @param {number} id
 */
export function number(view, id) {
  const i = view.tracks.findIndex((t) => t.id === id);
  return i < 0 ? null : i + 1;
}

function ordinal(n) {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}

/**
 * Where the player is, as `PlayerView::place` words it: `track 8 of 12`
 * by the playlist's numbers (the ones the list shows), then, while
 * shuffled, `· 1st in shuffle order`, or `· from the queue`; null without
 * a current track.
 */
export function place(view) {
  const n = number(view, view.track);
  if (n === null) return null;
  let text = `track ${n} of ${view.tracks.length}`;
  if (view.from_queue) text += " · from the queue";
  else if (view.shuffle) text += ` · ${ordinal(view.cursor + 1)} in shuffle order`;
  return text;
}

/** The current track, or null (an empty playlist). */
export function current(view) {
  return trackById(view, view.track);
}

/**
 * Where the current track is at log time `nowMs`: it runs while playing and
 * stops at the track's end (as `PlayerView::position_at`).
 */
export function positionAt(view, nowMs) {
  let position = view.position_ms;
  if (view.playing && nowMs !== null && nowMs > view.at_ms) position += nowMs - view.at_ms;
  const track = current(view);
  return track ? Math.min(position, track.duration_ms) : position;
}

/** Milliseconds as players show them: `4:05`, `1:02:05`. */
export function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  if (s >= 3600) return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
  return `${Math.floor(s / 60)}:${pad(s % 60)}`;
}
