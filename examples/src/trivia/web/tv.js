// The trivia TV screen, served at `/` (at `/r/KXQF/` in a hosted room,
// whose code it shows in big letters): how to join (QR code and URL), who
// plays, the question with its countdown, who has answered, the reveal with
// the count per answer, the scoreboard with each player's gain, and the
// final standings. Read from across a room: everything is big.
//
// The TV has no session (`anonymous: true`): it reads the public log from
// index 0 and draws the room from it, so a reload shows the same screen.

import {
  BASE,
  RexClient,
  Room,
  until,
  h,
  svg,
  shape,
  icon,
  choiceClass,
  fitAnswers,
  ordinal,
  points,
  seconds,
  scheduler,
  roomIsOver,
  resyncIsEnd,
  overScreen,
} from "./room.js";

/** @typedef {import("./protocol.js").Client} Client */

const app = document.getElementById("app");
const room = new Room(null);
const draw = scheduler(render);
// The client, once connected: the countdown reads its server clock.
/** @type {Client | null} The room's client, typed by its protocol (protocol.d.ts). */
let rex = null;

let roomName = "Trivia night";
// Set when the room is over: the screen says so and is drawn no more.
let ended = false;
// What the screen has shown, so only what is new pops in (see `fresh`).
const seen = new Set();
let joinUrl = new URL("play", BASE).href;
// The room's PIN, shown next to the QR code (which carries it); null if
// the room has none.
let joinPin = null;
// A hosted room's code (phones type it on the host's start page); null
// for a server's one room.
let roomCode = null;
// Made once and moved between screens, so the QR code does not reload.
const qrBig = h("img", { class: "qr", src: "join.svg", alt: "QR code to join the game" });
const qrSmall = h("img", { class: "qr", src: "join.svg", alt: "" });
for (const img of [qrBig, qrSmall]) img.addEventListener("error", () => img.remove());

main().catch(fail);
addEventListener("resize", () => fitAnswers(app));

async function main() {
  /** @type {Promise<{url?: unknown, pin?: unknown, code?: unknown}>} */
  const join = fetch(new URL("join.json", BASE))
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}));
  rex = /** @type {Client} */ (await RexClient.connect({ anonymous: true, base: BASE }));
  roomName = rex.info.name || roomName;
  document.title = roomName;
  const { url, pin, code } = await join;
  if (typeof url === "string" && url) joinUrl = url;
  if (typeof pin === "string" && pin) joinPin = pin;
  if (typeof code === "string" && code) roomCode = code;
  const stream = rex.events({
    start: 0,
    onEvent(event) {
      room.apply(event);
      draw();
    },
    // The room restarted: its log begins again; so does this page. A
    // hosted room that ended has nothing to begin again.
    onResync(resync) {
      if (!resyncIsEnd(resync)) {
        location.reload();
        return;
      }
      stream.close();
      over(resync.reason);
    },
    onError: fail,
  });
  draw();
  setInterval(tick, 200);
}

/** The room is over: say so, and draw it no more. */
function over(why) {
  ended = true;
  app.replaceChildren(overScreen(why));
  document.body.dataset.phase = "over";
}

function fail(err) {
  if (roomIsOver(err)) {
    over(err);
    return;
  }
  const reason = (err && (err.reason || err.message)) || String(err);
  app.replaceChildren(
    h("main", { class: "status" }, h("h1", {}, "Lost the room"), h("p", {}, reason), h("p", {}, "Reload the page to try again.")),
  );
}

/**
 * The join URL as people type it: without the scheme, and without the PIN
 * the QR code carries (it is shown on its own; a phone that typed the
 * address asks for it).
 */
function shortUrl() {
  return joinUrl.replace(/^https?:\/\//, "").replace(/\?pin=[^&]*$/, "");
}

/** Where a phone types a hosted room's code: the host's address. */
function hostAddress() {
  try {
    return new URL(joinUrl).host;
  } catch (_) {
    return location.host;
  }
}

/** " pop" the first time `key` is drawn, so a new thing animates once. */
function fresh(key) {
  if (seen.has(key)) return "";
  seen.add(key);
  return " pop";
}

function render() {
  if (ended) return;
  const screens = { lobby, starting, asking: round, revealed: round, finished };
  const screen = (screens[room.phase] || lobby)();
  app.replaceChildren(header(), screen);
  fitAnswers(app);
  document.body.dataset.phase = room.phase;
  tick();
}

function header() {
  const q = room.question;
  let progress = "";
  if (room.phase === "starting" && room.game) progress = `${room.game.questions} questions`;
  else if ((room.phase === "asking" || room.phase === "revealed") && q) progress = `Question ${q.number} of ${q.total}`;
  else if (room.phase === "finished") progress = "Game over";
  return h(
    "header",
    { class: "bar" },
    h("div", { class: "brand" }, h("span", { class: "logo" }, "REx"), h("span", { class: "room-name" }, roomName)),
    h("div", { class: "progress" }, progress),
    room.phase === "lobby"
      ? h("div", {})
      : h(
          "div",
          { class: "join-mini" },
          qrSmall,
          roomCode
            ? h("div", {}, h("small", {}, `Join at ${hostAddress()} with`), h("b", { class: "code" }, roomCode), joinPin ? h("small", { class: "pin" }, `PIN ${joinPin}`) : null)
            : h("div", {}, h("small", {}, "Join at"), h("b", {}, shortUrl()), joinPin ? h("small", { class: "pin" }, `PIN ${joinPin}`) : null),
        ),
  );
}

/** The players as chips; `mark(p)`: whether to tick one (has answered). */
function playerChips(mark) {
  const players = [...room.players.values()];
  const where = room.phase === "asking" && room.question ? `q${room.question.index}` : room.phase;
  return h(
    "ul",
    { class: "chips", id: "players" },
    players.map((p) =>
      h(
        "li",
        {
          class: "chip" + (p.host ? " host" : "") + (mark && mark(p) ? " done" : "") + fresh(`${where}:${p.session}:${Boolean(mark && mark(p))}`),
          dataset: { session: p.session },
        },
        mark && mark(p) ? icon("check") : null,
        h("span", { class: "name" }, p.name),
        p.host ? h("span", { class: "badge" }, "host") : null,
      ),
    ),
  );
}

function hostLine(what) {
  return room.host ? `Waiting for ${room.nameOf(room.host)} to ${what}…` : "The first player to join is the host.";
}

/** How to join: the QR code and the URL, or a hosted room's code. */
function joinCard() {
  const pin = joinPin ? h("p", { class: "pin" }, "PIN ", h("b", { id: "join-pin" }, joinPin)) : null;
  const classes = "join-card" + (joinPin ? " with-pin" : "") + (roomCode ? " with-code" : "");
  if (roomCode) {
    return h(
      "section",
      { class: classes },
      h("h1", {}, "Join the game"),
      h("p", { class: "code-line" }, h("small", {}, "Room code"), h("b", { id: "room-code" }, roomCode)),
      qrBig,
      h("p", { class: "url" }, "Scan, or open ", h("b", { id: "join-url" }, hostAddress()), " and type the code"),
      pin,
    );
  }
  return h(
    "section",
    { class: classes },
    h("h1", {}, "Join the game"),
    h("p", { class: "lead" }, "Scan with your phone's camera"),
    qrBig,
    h("p", { class: "url" }, "or open ", h("b", { id: "join-url" }, shortUrl())),
    pin,
  );
}

function lobby() {
  const count = room.players.size;
  return h(
    "main",
    { class: "lobby" },
    joinCard(),
    h(
      "section",
      { class: "roster" },
      h("h2", {}, "Players ", h("span", { class: "count", id: "player-count" }, count)),
      count ? playerChips() : h("p", { class: "empty" }, "Nobody yet. Grab your phone!"),
      h(
        "ol",
        { class: "how" },
        h("li", {}, h("b", {}, "1"), h("span", {}, "Scan the code, or type the address")),
        h("li", {}, h("b", {}, "2"), h("span", {}, "Pick a name: the first one in is the host")),
        h(
          "li",
          {},
          h("b", {}, "3"),
          h("span", {}, "Tap the answer's colour. The faster, the more points"),
          h("span", { class: "shapes" }, [0, 1, 2, 3].map((i) => h("span", { class: `answer ${choiceClass(i)}` }, shape(i)))),
        ),
      ),
      h("p", { class: "hint" }, hostLine("start the game")),
    ),
  );
}

function starting() {
  const game = room.game || { questions: 0, seconds: 0 };
  return h(
    "main",
    { class: "starting" },
    h("h1", { class: fresh(`start:${room.startedAt}`).trim() }, "Get ready!"),
    h("p", { class: "lead" }, `${game.questions} questions · ${game.seconds} seconds each · faster answers score more`),
    playerChips(),
  );
}

function round() {
  const q = room.question;
  if (!q) return starting();
  const reveal = room.phase === "revealed" && room.reveal && room.reveal.number === q.number ? room.reveal : null;
  const answered = reveal ? reveal.counts.reduce((a, b) => a + b, 0) : 0;
  return h(
    "main",
    { class: "round" + (reveal ? " revealed" : "") },
    h("div", { class: "question" }, h("h1", { id: "question" }, q.text)),
    h(
      "div",
      { class: "answers", id: "answers" },
      q.choices.map((text, i) => {
        const correct = reveal && reveal.correct === i;
        const count = reveal ? reveal.counts[i] || 0 : 0;
        const share = answered ? Math.round((100 * count) / answered) : 0;
        return h(
          "div",
          {
            class: `answer ${choiceClass(i)}` + (reveal ? (correct ? " correct" : " wrong") : ""),
            dataset: { choice: i },
            style: reveal ? `--share: ${share}%` : null,
          },
          shape(i),
          h("span", { class: "answer-text" }, text),
          reveal ? h("span", { class: "count" + (correct ? " right" : ""), title: "players who chose it" }, correct ? icon("check") : null, count) : null,
        );
      }),
    ),
    h("aside", { class: "side" }, reveal ? scoreboard() : countdown()),
  );
}

function countdown() {
  const ring = svg("svg", { viewBox: "0 0 100 100", "aria-hidden": "true" });
  ring.append(svg("circle", { class: "track", cx: 50, cy: 50, r: 45 }), svg("circle", { class: "left", id: "ring", cx: 50, cy: 50, r: 45 }));
  const total = room.players.size;
  return [
    h("div", { class: "countdown" }, ring, h("span", { id: "seconds" }, "")),
    h(
      "section",
      { class: "answered" },
      h("h2", {}, h("span", { id: "answered-count" }, room.answered.size), ` of ${total} answered`),
      playerChips((p) => room.answered.has(p.session)),
    ),
  ];
}

function scoreboard() {
  const rows = room.standings;
  const shown = rows.slice(0, 8);
  return h(
    "section",
    { class: "scoreboard" },
    h("h2", {}, "Scores"),
    h(
      "ol",
      { id: "scoreboard" },
      shown.map((s) => {
        const gain = room.gains.get(s.session) || 0;
        return h(
          "li",
          { class: "rank-" + s.rank + fresh(`scores:${room.question && room.question.index}:${s.session}`), dataset: { session: s.session } },
          h("span", { class: "rank" }, s.rank),
          h("span", { class: "name" }, s.name),
          h("span", { class: "gain" + (gain ? "" : " none") }, gain ? "+" + points(gain) : ""),
          h("span", { class: "score" }, points(s.score)),
        );
      }),
    ),
    rows.length > shown.length ? h("p", { class: "more" }, `and ${rows.length - shown.length} more`) : null,
  );
}

function finished() {
  const standings = room.final || [];
  // The podium shows 2nd, 1st, 3rd from the left, as podiums do.
  const podium = [standings[1], standings[0], standings[2]].filter(Boolean);
  // Two lines of the rest fit under the podium.
  const others = standings.slice(3);
  const rest = others.length > 6 ? others.slice(0, 5) : others;
  const more = others.length - rest.length;
  return h(
    "main",
    { class: "final" },
    h("h1", {}, standings.length ? `${standings[0].name} wins!` : "Game over"),
    h(
      "div",
      { class: "podium", id: "final" },
      podium.map((s) =>
        h(
          "div",
          { class: `step place-${standings.indexOf(s) + 1}` + fresh(`final:${room.finishedAt}:${s.session}`), dataset: { session: s.session } },
          h("span", { class: "name" }, s.name),
          h("span", { class: "score" }, points(s.score)),
          h("div", { class: "block" }, ordinal(s.rank)),
        ),
      ),
    ),
    rest.length
      ? h(
          "ol",
          { class: "rest" },
          rest.map((s) =>
            h("li", {}, h("span", { class: "rank" }, ordinal(s.rank)), h("span", { class: "name" }, s.name), h("span", { class: "score" }, points(s.score))),
          ),
          more > 0 ? h("li", { class: "more" }, `and ${more} more`) : null,
        )
      : null,
    h("p", { class: "hint" }, hostLine("start a new game")),
  );
}

/** Updates the countdown between events. */
function tick() {
  const q = room.question;
  const label = document.getElementById("seconds");
  if (!q || !label || room.phase !== "asking") return;
  const limit = q.seconds * 1000;
  const left = until(rex, q.closes_at_ms);
  const ms = left === null ? limit : Math.min(left, limit);
  label.textContent = String(seconds(ms));
  label.parentElement.classList.toggle("urgent", ms <= 5000);
  const ring = document.getElementById("ring");
  if (ring) ring.style.strokeDashoffset = String(283 * (1 - ms / limit));
}
