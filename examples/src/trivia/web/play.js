// The trivia phone controller, served at `/play` (at `/r/KXQF/play` in a
// hosted room): type a name, then answer
// with four big buttons, then see your own result (right or wrong, points,
// total, place). The host also gets the Start button.
//
// The page is rebuilt from the log at every load: the session (kept in
// localStorage by the client) and the events from index 0, private results
// included, say everything it shows. A locked phone's stream is reopened by
// the client when the page shows again; a reloaded page is the same player.
// While the stream is lost the page says "Reconnecting…", as the client's
// onConnection reports it (nothing polls the room).

import {
  BASE,
  RexClient,
  RexError,
  Room,
  until,
  h,
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
/** @typedef {import("./protocol.js").MessageKind} MessageKind */

// The name this phone joined with: with it, a reload (or a room restart,
// which makes a new session) skips the name form.
const NAME_KEY = "trivia:name";
// The choice this page sent for the open question, so a reload can show it
// (the log only says *that* this player answered).
const ANSWER_KEY = "trivia:answer";

const app = document.getElementById("app");
const toastBox = document.getElementById("toast");
const linkBox = document.getElementById("link");
const room = new Room(null);
const draw = scheduler(render);

/** @type {Client | null} The room's client, typed by its protocol (protocol.d.ts). */
let rex = null;
let roomName = "Trivia night";
// The room's PIN, if it has one: the QR code's URL carries it (`?pin=`),
// so a phone that scanned it never asks; one typed into the form after a
// refusal is put in the URL, so a reload keeps it.
let pin = new URLSearchParams(location.search).get("pin");
/** {session, index, choice}: this page's answer to the question at log `index`. */
let picked = load(ANSWER_KEY);
let sending = false;
let renaming = false;
let renameForm = null;
/** What the screen shows, to redraw only when it changes (not under a thumb). */
let shown = "";
let toastTimer = 0;
// Set when the room is over: the screen says so and is drawn no more.
let ended = false;

fetch(new URL("rex/v0/info", BASE))
  .then((r) => (r.ok ? r.json() : null))
  .then((info) => {
    if (info && info.name) roomName = info.name;
    const title = document.getElementById("room-name");
    if (title) title.textContent = roomName;
  })
  .catch(() => {});

addEventListener("resize", () => fitAnswers(app));

const saved = localStorage.getItem(NAME_KEY);
if (saved) join(saved);
else askName();

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch (_) {
    return null;
  }
}

function reasonOf(err) {
  if (err instanceof RexError) return err.reason;
  return (err && err.message) || String(err);
}

/** The room is over: say so, and draw it no more. */
function over(why) {
  ended = true;
  linkBox.hidden = true;
  app.replaceChildren(overScreen(why));
}

function toast(text) {
  toastBox.textContent = text;
  toastBox.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toastBox.classList.remove("show"), 5000);
}

/**
 * The name form; `error` says why the last try failed. `needsPin`: the
 * room refused for its PIN, so the form asks for it too.
 */
function askName(error, needsPin = false) {
  const pinInput = needsPin
    ? h("input", {
        id: "pin",
        name: "pin",
        inputmode: "numeric",
        autocomplete: "off",
        enterkeyhint: "go",
        placeholder: "PIN (shown on the TV)",
        "aria-label": "The room's PIN, shown on the TV",
        required: true,
      })
    : null;
  const input = h("input", {
    id: "name",
    name: "name",
    maxlength: 32,
    autocomplete: "nickname",
    autocapitalize: "words",
    enterkeyhint: "go",
    placeholder: "Your name",
    "aria-label": "Your name",
    required: true,
  });
  const form = h(
    "form",
    {
      class: "name-form",
      id: "join",
      onsubmit(ev) {
        ev.preventDefault();
        const name = input.value.trim();
        if (!name) {
          toast("Type a name first.");
          return;
        }
        if (pinInput) {
          if (!pinInput.value.trim()) {
            toast("Type the PIN shown on the TV.");
            return;
          }
          pin = pinInput.value.trim();
        }
        join(name);
      },
    },
    input,
    pinInput,
    h("button", { type: "submit", class: "big", id: "join-button" }, "Join the game"),
  );
  app.replaceChildren(
    h(
      "main",
      { class: "welcome" },
      h("div", { class: "shapes", "aria-hidden": "true" }, [0, 1, 2, 3].map((i) => h("span", { class: `answer ${choiceClass(i)}` }, shape(i)))),
      h("h1", { id: "room-name" }, roomName),
      h("p", { class: "lead" }, "What should we call you?"),
      form,
      error ? h("p", { class: "error" }, error) : null,
    ),
  );
  if (needsPin && input.value === "") input.value = localStorage.getItem(NAME_KEY) || "";
  (needsPin && input.value ? pinInput : input).focus();
}

async function join(name) {
  app.replaceChildren(h("p", { class: "status" }, "Joining…"));
  try {
    rex = /** @type {Client} */ (await RexClient.connect(pin ? { name, pin, base: BASE } : { name, base: BASE }));
  } catch (err) {
    if (roomIsOver(err)) {
      over(err);
      return;
    }
    // 403: the PIN is missing or wrong; the reason says which.
    const forbidden = err instanceof RexError && err.code === "forbidden";
    if (forbidden) localStorage.setItem(NAME_KEY, name);
    askName(`Could not join: ${reasonOf(err)}`, forbidden);
    return;
  }
  localStorage.setItem(NAME_KEY, name);
  if (pin && new URLSearchParams(location.search).get("pin") !== pin) {
    history.replaceState(null, "", `${location.pathname}?pin=${encodeURIComponent(pin)}`);
  }
  room.me = rex.session;
  roomName = rex.info.name || roomName;
  document.title = roomName;
  const stream = rex.events({
    start: 0,
    onEvent(event) {
      room.apply(event);
      draw();
    },
    // The room restarted: this session is gone. A reload joins the new
    // room under the same name. A hosted room that ended has no new room.
    onResync(resync) {
      if (!resyncIsEnd(resync)) {
        location.reload();
        return;
      }
      stream.close();
      over(resync.reason);
    },
    onConnection(connection) {
      if (!ended) showConnection(connection);
    },
    onError(err) {
      if (roomIsOver(err)) {
        over(err);
        return;
      }
      if (err.code === "unauthorized") {
        // The room no longer knows this session: start afresh.
        rex.forget();
        location.reload();
        return;
      }
      app.replaceChildren(h("main", { class: "status" }, h("h1", {}, "Lost the room"), h("p", {}, reasonOf(err))));
    },
  });
  draw();
  setInterval(tick, 200);
}

/**
 * "Reconnecting…" over the page while the client's stream is lost (it
 * reconnects by itself); the page underneath stays as it was.
 */
function showConnection(connection) {
  linkBox.hidden = connection.state === "connected";
  linkBox.title =
    connection.state === "connected" || connection.attempts === 0
      ? ""
      : `The room does not answer (${connection.attempts} ${connection.attempts === 1 ? "attempt" : "attempts"} failed)`;
}

/**
 * Sends a message; on refusal, toasts the reason. Returns whether it was
 * accepted. `data` is checked against `kind` (protocol.d.ts).
 * @template {MessageKind} K
 * @param {K} kind
 * @param {import("./protocol.js").SendData<K>} data
 */
async function send(kind, ...data) {
  try {
    await rex.send(kind, ...data);
    return true;
  } catch (err) {
    if (roomIsOver(err)) over(err);
    else toast(reasonOf(err));
    return false;
  }
}

async function answer(q, choice) {
  if (sending) return;
  sending = true;
  picked = { session: room.me, index: q.index, choice };
  localStorage.setItem(ANSWER_KEY, JSON.stringify(picked));
  draw();
  if (!(await send("answer", { number: q.number, choice }))) {
    picked = null;
    localStorage.removeItem(ANSWER_KEY);
  }
  sending = false;
  draw();
}

async function start(button) {
  button.disabled = true;
  await send("start");
  button.disabled = false;
}

function beginRename() {
  renaming = true;
  const input = h("input", { id: "rename", maxlength: 32, autocomplete: "nickname", value: room.nameOf(room.me) });
  renameForm = h(
    "form",
    {
      class: "name-form",
      async onsubmit(ev) {
        ev.preventDefault();
        const name = input.value.trim();
        if (await send("rename", { name })) {
          localStorage.setItem(NAME_KEY, name);
          renaming = false;
          draw();
        }
      },
    },
    h("h1", {}, "Change your name"),
    input,
    h("button", { type: "submit", class: "big", id: "rename-save" }, "Save"),
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick() {
          renaming = false;
          draw();
        },
      },
      "Cancel",
    ),
  );
  draw();
}

/** This page's own answer to the open question, if it sent one. */
function myChoice() {
  const q = room.question;
  if (!q || !picked || picked.session !== room.me || picked.index !== q.index) return null;
  return picked.choice;
}

function render() {
  if (!rex || ended) return;
  const mine = room.mine;
  const q = room.question;
  const key = JSON.stringify([
    room.phase,
    room.nameOf(room.me),
    room.isHost,
    room.host && room.nameOf(room.host),
    room.players.size,
    q && q.index,
    room.answered.has(room.me),
    myChoice(),
    sending,
    room.reveal,
    room.result,
    mine,
    room.standings.length,
    renaming,
  ]);
  if (key === shown) return;
  shown = key;
  const screens = { lobby, starting, asking, revealed, finished };
  const screen = renaming ? h("main", { class: "rename" }, renameForm) : (screens[room.phase] || lobby)();
  app.replaceChildren(header(), screen);
  fitAnswers(app);
  document.body.dataset.phase = room.phase;
  tick();
}

function header() {
  const mine = room.mine;
  const player = room.players.get(room.me);
  return h(
    "header",
    { class: "bar" },
    h(
      "span",
      { class: "me" },
      h("span", { class: "name", id: "me" }, player ? player.name : localStorage.getItem(NAME_KEY) || ""),
      room.isHost ? h("span", { class: "badge" }, "host") : null,
    ),
    h(
      "span",
      { class: "standing" },
      h("span", { class: "score" }, h("b", { id: "score" }, points(mine ? mine.score : 0)), " pts"),
      mine ? h("span", { class: "rank", id: "rank" }, ordinal(mine.rank)) : null,
    ),
  );
}

function startButton(label) {
  const button = h("button", { class: "big", id: "start", onclick: () => start(button) }, label);
  return button;
}

function lobby() {
  const others = room.players.size - 1;
  return h(
    "main",
    { class: "lobby" },
    h("div", { class: "hero" }, icon("check")),
    h("h1", {}, "You're in!"),
    room.isHost
      ? [h("p", { class: "lead" }, "You're the host: start when everyone has joined."), startButton("Start the game")]
      : h("p", { class: "lead" }, `Waiting for ${room.nameOf(room.host)} to start the game…`),
    h(
      "p",
      { class: "muted", id: "player-count" },
      others === 0 ? "Nobody else yet: the TV shows how to join" : others === 1 ? "1 other player is here" : `${others} other players are here`,
    ),
    h("button", { class: "link", id: "change-name", onclick: beginRename }, "Change name"),
  );
}

function starting() {
  const game = room.game || { questions: 0, seconds: 0 };
  return h(
    "main",
    { class: "starting" },
    h("h1", {}, "Get ready!"),
    h("p", { class: "lead" }, `${game.questions} questions, ${game.seconds} seconds each.`),
    h("p", { class: "muted" }, "Eyes on the TV: the first question is coming."),
  );
}

function asking() {
  const q = room.question;
  const choice = myChoice();
  const done = choice !== null || room.answered.has(room.me);
  const head = h(
    "div",
    { class: "q-head" },
    h("span", { class: "qnum", id: "qnum" }, `Question ${q.number} of ${q.total}`),
    h("span", { class: "timer" }, icon("clock"), h("span", { id: "seconds" }, "")),
  );
  const bar = h("div", { class: "timebar" }, h("div", { id: "timebar" }));
  if (done) {
    return h(
      "main",
      { class: "locked", id: "locked" },
      head,
      bar,
      choice !== null
        ? h("div", { class: `answer big-choice ${choiceClass(choice)}` }, shape(choice), h("span", { class: "answer-text" }, q.choices[choice]))
        : null,
      h("h1", {}, sending ? "Sending…" : "Answer locked in"),
      h("p", { class: "muted" }, "Watch the TV for the answer."),
    );
  }
  return h(
    "main",
    { class: "asking" },
    head,
    bar,
    h("p", { class: "q-text", id: "question" }, q.text),
    h(
      "div",
      { class: "pad", id: "pad" },
      q.choices.map((text, i) =>
        h(
          "button",
          { class: `answer ${choiceClass(i)}`, dataset: { choice: i }, onclick: () => answer(q, i) },
          shape(i),
          h("span", { class: "answer-text" }, text),
        ),
      ),
    ),
  );
}

function revealed() {
  const q = room.question;
  const reveal = room.reveal;
  const r = room.result;
  const mine = room.mine;
  const kind = !r ? "none" : r.correct ? "correct" : r.choice === null ? "missed" : "wrong";
  const title = { correct: "Correct!", wrong: "Not quite", missed: "Time's up", none: "Answers are in" }[kind];
  const right = reveal.correct;
  return h(
    "main",
    { class: "reveal" },
    h(
      "section",
      {
        class: `verdict ${kind}`,
        id: "result",
        dataset: r ? { kind, number: r.number, points: r.points, total: r.total } : { kind },
      },
      h("div", { class: "hero" }, icon(kind === "correct" ? "check" : kind === "wrong" ? "cross" : "clock")),
      h("h1", {}, title),
      r ? h("p", { class: "gain", id: "points" }, `+${points(r.points)} points`) : null,
      kind === "wrong" && q && q.choices[r.choice] !== undefined
        ? h("p", { class: "chose" }, "You chose ", shape(r.choice), q.choices[r.choice])
        : null,
      mine ? h("p", { class: "place" }, `${ordinal(mine.rank)} of ${room.standings.length} · ${points(mine.score)} in total`) : null,
    ),
    q && q.choices[right] !== undefined
      ? h(
          "div",
          { class: "right-answer" },
          h("span", { class: "muted" }, "The answer was"),
          h("div", { class: `answer small ${choiceClass(right)}` }, shape(right), h("span", { class: "answer-text" }, q.choices[right])),
        )
      : null,
  );
}

function finished() {
  const mine = room.mine;
  const count = room.standings.length;
  return h(
    "main",
    { class: "finished", id: "finished" },
    h("p", { class: "muted" }, "Game over"),
    mine ? h("h1", {}, mine.rank === 1 ? "You won!" : `You finished ${ordinal(mine.rank)}`) : h("h1", {}, "That's the game!"),
    mine ? h("p", { class: "lead" }, `${points(mine.score)} points · ${count} ${count === 1 ? "player" : "players"}`) : null,
    room.isHost
      ? startButton("Play again")
      : h("p", { class: "muted" }, `Waiting for ${room.nameOf(room.host)} to start a new game…`),
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
  const bar = document.getElementById("timebar");
  if (bar) {
    bar.style.width = `${(100 * ms) / limit}%`;
    bar.classList.toggle("urgent", ms <= 5000);
  }
}
