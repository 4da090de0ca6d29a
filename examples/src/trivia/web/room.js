// What the trivia TV page (tv.js) and phone page (play.js) share: the room's
// state as the log builds it, an estimate of the server's clock for
// countdowns, and DOM helpers.
//
// The log is the state: a page reads it from index 0 and applies every event
// in order, so a reloaded page draws exactly what it drew before. Names and
// questions are only ever put in the page as text (never parsed as HTML).
//
// The protocol's types (what `Event` and `Client` are) come from
// protocol.d.ts, generated from the room's schema (`rex types`); tsc checks
// these files against it (tsconfig.json here, tests/types.rs), so a
// misspelled kind or field is an error with its line, not a blank screen.

// Every REx server serves the client at its root, a host of rooms too (and
// in each room): the one absolute URL of the pages.
import { RexError } from "/rex/v0/client.js";
export { RexClient, RexError } from "/rex/v0/client.js";

/**
 * The room's base URL, where this file is served: `http://host:port/` for
 * a server's one room, `http://host:port/r/KXQF/` for a room of a host.
 * The pages pass it to the client (`RexClient.connect({base: BASE})`) and
 * reach the room's files and endpoints relative to it, so the same pages
 * work at both places.
 */
export const BASE = new URL(".", import.meta.url).href;

/** @typedef {import("./protocol.js").Client} Client */
/** @typedef {import("./protocol.js").Event} Event */
/** @typedef {import("./protocol.js").Standing} Standing */
/** @typedef {import("./protocol.js").MessageKind} MessageKind */
/** @template {MessageKind} K @typedef {import("./protocol.js").SendData<K>} SendData */

/** The four answers: a colour and a shape each, the same on TV and phone. */
export const CHOICES = [
  { name: "red", shape: "triangle" },
  { name: "blue", shape: "diamond" },
  { name: "yellow", shape: "circle" },
  { name: "green", shape: "square" },
];

/** The room as the events so far describe it. */
export class Room {
  /** `me`: this page's session (a phone), or null (the TV). */
  constructor(me = null) {
    this.me = me;
    /** Every player, in join order: session → {session, name, host}. */
    this.players = new Map();
    this.host = null;
    /** "lobby", "starting", "asking", "revealed" or "finished". */
    this.phase = "lobby";
    /** {questions, seconds} of the game being played. */
    this.game = null;
    /**
     * The last question's event data, plus `index`, its place in the log.
     * @type {(import("./protocol.js").EventData<"question"> & {index: number}) | null}
     */
    this.question = null;
    /** Who answered the last question. */
    this.answered = new Set();
    /** @type {import("./protocol.js").EventData<"revealed"> | null} The last reveal. */
    this.reveal = null;
    /** @type {import("./protocol.js").EventData<"result"> | null} This player's result for the last reveal, if they got one. */
    this.result = null;
    /** @type {Standing[]} The scoreboard, best first, as the last `scores` or `finished` gave it. */
    this.standings = [];
    /** Points each player won at the last `scores`. */
    this.gains = new Map();
    /** @type {Standing[] | null} The final standings, once the game is over. */
    this.final = null;
    /** Where in the log the game started and ended (to tell games apart). */
    this.startedAt = null;
    this.finishedAt = null;
  }

  /**
   * Applies one event of the log. Unknown kinds are ignored. `switch` on
   * `event.kind` narrows `event.data` to that kind's type.
   * @param {Event} event
   */
  apply(event) {
    switch (event.kind) {
      case "joined": {
        const d = event.data;
        this.players.set(d.session, { session: d.session, name: d.name, host: d.host });
        if (d.host) this.host = d.session;
        break;
      }
      case "renamed": {
        const d = event.data;
        const player = this.players.get(d.session);
        if (player) player.name = d.name;
        for (const s of this.standings) if (s.session === d.session) s.name = d.name;
        break;
      }
      case "started": {
        const d = event.data;
        this.phase = "starting";
        this.startedAt = event.index;
        this.game = { questions: d.questions, seconds: d.seconds };
        this.question = null;
        this.answered = new Set();
        this.reveal = null;
        this.result = null;
        this.standings = [];
        this.gains = new Map();
        this.final = null;
        break;
      }
      case "question":
        this.phase = "asking";
        this.question = { ...event.data, index: event.index };
        this.answered = new Set();
        this.reveal = null;
        this.result = null;
        break;
      case "answered":
        if (this.question && event.data.number === this.question.number) this.answered.add(event.data.session);
        break;
      case "revealed":
        this.phase = "revealed";
        this.reveal = event.data;
        break;
      case "result":
        // Private: only this player's page receives it.
        if (this.reveal && event.data.number === this.reveal.number) this.result = event.data;
        break;
      case "scores": {
        const d = event.data;
        const before = new Map(this.standings.map((s) => [s.session, s.score]));
        this.gains = new Map(d.standings.map((s) => [s.session, s.score - (before.get(s.session) || 0)]));
        this.standings = d.standings.map((s) => ({ ...s }));
        break;
      }
      case "finished":
        this.phase = "finished";
        this.finishedAt = event.index;
        this.final = event.data.standings.map((s) => ({ ...s }));
        this.standings = event.data.standings.map((s) => ({ ...s }));
        break;
      default:
        break;
    }
  }

  /** A player's current name. */
  nameOf(session) {
    const player = this.players.get(session);
    return player ? player.name : "someone";
  }

  /** Whether this page's player is the host. */
  get isHost() {
    return this.me !== null && this.host === this.me;
  }

  /** This player's line of the scoreboard, or null before the first one. */
  get mine() {
    return this.standings.find((s) => s.session === this.me) || null;
  }
}

/**
 * Whether `error` (a RexError) says the room is over for good: a hosted
 * room that ended (`410 gone` with no epoch to resync to, unlike a
 * restarted room's), or one the host no longer knows (`404`). Retrying
 * will not bring it back.
 * @param {unknown} error
 */
export function roomIsOver(error) {
  if (!(error instanceof RexError)) return false;
  return (error.status === 410 && !error.body.epoch) || error.status === 404;
}

/**
 * Whether what the client's `onResync` got says the room ended, rather
 * than restarted: an ended room's `410` has no bounds to resume from.
 * @param {{oldest?: number}} resync
 */
export function resyncIsEnd(resync) {
  return resync.oldest === undefined || resync.oldest === null;
}

/**
 * The screen of a room that is over: "This game has ended" (or, for a code
 * the host does not know, that there is no game there), the server's
 * reason, and a link back to the host's start page to host or join
 * another.
 * @param {unknown} error a RexError, or the reason as text
 */
export function overScreen(error) {
  const reason = error instanceof RexError ? error.reason : String(error);
  const gone = !(error instanceof RexError) || error.status !== 404;
  return h(
    "main",
    { class: "status over", id: "over" },
    h("h1", {}, gone ? "This game has ended" : "There is no game here"),
    h("p", {}, reason),
    h("p", {}, h("a", { href: "/", id: "home", class: "home" }, "Host or join another game")),
  );
}

/**
 * Milliseconds until the server's log clock (`rex.serverTime()`) reaches
 * `time` (≥ 0), or null before the client knows the clock.
 * @param {Client | null} rex
 * @param {number} time
 */
export function until(rex, time) {
  const now = rex ? rex.serverTime() : null;
  return now === null ? null : Math.max(0, time - now);
}

/**
 * Creates an element. `props`: attributes, plus `class`, `dataset`, and
 * `on<event>` listeners; `children`: nodes or strings, added as text.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    // Through the CSSOM, not a `style` attribute: the server's
    // Content-Security-Policy (`style-src 'self'`) blocks inline attributes.
    else if (key === "style") el.style.cssText = String(value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

/** Creates an SVG element with the given attributes. */
export function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/** The shape of answer `i` (triangle, diamond, circle, square), in currentColor. */
export function shape(i) {
  const kind = (CHOICES[i] || CHOICES[0]).shape;
  const icon = svg("svg", { viewBox: "0 0 100 100", class: "shape", "aria-hidden": "true" });
  if (kind === "triangle") icon.append(svg("path", { d: "M50 10 L94 88 L6 88 Z" }));
  else if (kind === "diamond") icon.append(svg("path", { d: "M50 4 L96 50 L50 96 L4 50 Z" }));
  else if (kind === "circle") icon.append(svg("circle", { cx: 50, cy: 50, r: 44 }));
  else icon.append(svg("rect", { x: 10, y: 10, width: 80, height: 80, rx: 6 }));
  return icon;
}

const ICONS = {
  check: "M20 52 L40 72 L80 28",
  cross: "M26 26 L74 74 M74 26 L26 74",
  clock: "M50 14 A36 36 0 1 1 49.9 14 M50 30 V50 L64 60",
};

/** A line icon ("check", "cross", "clock"), in currentColor. */
export function icon(name) {
  const el = svg("svg", { viewBox: "0 0 100 100", class: "icon icon-" + name, "aria-hidden": "true" });
  el.append(svg("path", { d: ICONS[name] || ICONS.check }));
  return el;
}

/**
 * Shrinks each answer text under `root` that does not fit its tile (a long
 * word, a long answer from a custom question file), down to half size;
 * past that, lets it break anywhere. Call after drawing.
 */
export function fitAnswers(root) {
  for (const text of root.querySelectorAll(".answer-text")) {
    const tile = text.closest(".answer");
    if (!tile) continue;
    text.style.fontSize = "";
    text.style.overflowWrap = "";
    const overflows = () => text.scrollWidth > text.clientWidth + 1 || tile.scrollHeight > tile.clientHeight + 1;
    for (let scale = 0.92; scale >= 0.5 && overflows(); scale -= 0.08) text.style.fontSize = `${scale}em`;
    if (overflows()) text.style.overflowWrap = "anywhere";
  }
}

/** The class that gives answer `i` its colour. */
export function choiceClass(i) {
  return "choice-" + (CHOICES[i] || CHOICES[0]).name;
}

/** 1 → "1st", 2 → "2nd", 11 → "11th". */
export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return n + "th";
  return n + ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th");
}

/** 12345 → "12,345". */
export function points(n) {
  return Number(n || 0).toLocaleString("en-US");
}

/** A countdown as whole seconds, rounded up: 0.2 s left shows 1. */
export function seconds(ms) {
  return Math.ceil(ms / 1000);
}

/**
 * Calls `draw` once per animation frame at most, however many events
 * arrive: reading a long log at load draws once, not once per event.
 */
export function scheduler(draw) {
  let pending = false;
  const run = () => {
    if (!pending) return;
    pending = false;
    draw();
  };
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(run);
    // A hidden page gets no animation frames; keep its screen current
    // anyway, so it is right the moment it shows.
    setTimeout(run, 250);
  };
}
