// The JavaScript client (rex/src/server/js/client.js) against a real REx
// server running TestApp, over 127.0.0.1. Started by tests/js.rs, which
// passes the addresses:
//
//   REX_URL          the server, direct
//   REX_CUT_URL      a proxy to the same server that cuts every connection
//                    after a few hundred bytes from the server
//   REX_RESTART_URL  a proxy to a second server, which restarts on
//   REX_CONTROL_URL  POST /restart: stops that server, starts a new one
//                    (new epoch) and points the proxy at it; answers once done.
//   REX_PIN_URL      a server started with the PIN REX_PIN
//   REX_ROOM_URL     a room of a host of rooms (rex::Host), http://…/r/CODE;
//                    POST REX_CONTROL_URL/end-room/CODE closes it
//   REX_SERVED_ROOM_URL  another room of that host, which a module loaded
//                    from its URL (see ./http-loader.mjs) reaches
//   REX_MOVED_URL    a third room of that host, reached through a host that
//                    redirects it (307 moved) to its owner REX_MOVED_FIRST
//                    and lists REX_MOVED_PEER among its peers; GET
//                    REX_CONTROL_URL/seen lists what that host got, POST
//                    /move sends the room to REX_MOVED_SECOND (the owner
//                    dies), POST /lose-group stops the host given and the
//                    second (the peer is left). All of them are proxies of
//                    the one real room.
//
// Node has no EventSource: ./eventsource.mjs is a spec-following one.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { register } from "node:module";

import { RexClient, RexError } from "../../rex/src/server/js/client.js";
import { eventSourceClass, memoryStorage } from "./eventsource.mjs";

const REX_URL = process.env.REX_URL;
const CUT_URL = process.env.REX_CUT_URL;
const RESTART_URL = process.env.REX_RESTART_URL;
const CONTROL_URL = process.env.REX_CONTROL_URL;
// A server whose sessions need the PIN `REX_PIN`.
const PIN_URL = process.env.REX_PIN_URL;
const PIN = process.env.REX_PIN;
const ROOM_URL = process.env.REX_ROOM_URL;
const SERVED_ROOM_URL = process.env.REX_SERVED_ROOM_URL;
const MOVED_URL = process.env.REX_MOVED_URL;
const MOVED_FIRST = process.env.REX_MOVED_FIRST;
const MOVED_SECOND = process.env.REX_MOVED_SECOND;
const MOVED_PEER = process.env.REX_MOVED_PEER;
const CLIENT_PATH = new URL("../../rex/src/server/js/client.js", import.meta.url);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

if (!REX_URL) throw new Error("REX_URL is not set: run this through `cargo test -p rex-tests --test js`");

// `import()` of an http:// URL ending in /rex/v0/client.js loads this
// repository's client.js as if served there.
register("./http-loader.mjs", import.meta.url);

const ES = eventSourceClass({ reconnectMs: 20 });
const fastRetry = { initialMs: 5, maxMs: 50 };
// How long a test waits for something the server will do: generous, since
// the suite runs on busy two-core machines; a wait that runs out names what
// it was waiting for.
const WAIT_MS = 30000;
// A whole test's limit: above any one wait.
const TEST_MS = 60000;

function connect(options = {}) {
  return RexClient.connect({ base: REX_URL, EventSource: ES, storage: memoryStorage(), retry: fastRetry, ...options });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      // `what` may be a function, to describe the state when time is up.
      const said = () => (typeof what === "function" ? what() : what);
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${said()}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Collects a subscription's events; `until(index)` waits for one at or past it. */
function collector() {
  const events = [];
  let waiters = [];
  const onEvent = (event) => {
    events.push(event);
    waiters = waiters.filter((w) => !w(event));
  };
  const until = (index, ms = WAIT_MS) =>
    withTimeout(
      new Promise((resolve) => {
        if (events.some((e) => e.index >= index)) return resolve();
        waiters.push((e) => (e.index >= index ? (resolve(), true) : false));
      }),
      ms,
      `an event at index >= ${index} (have ${events.length}, last ${events.at(-1)?.index})`,
    );
  const untilEvent = (predicate, what, ms = WAIT_MS) =>
    withTimeout(
      new Promise((resolve) => {
        if (events.some(predicate)) return resolve();
        waiters.push((e) => (predicate(e) ? (resolve(), true) : false));
      }),
      ms,
      what,
    );
  return { events, onEvent, until, untilEvent, indexes: () => events.map((e) => e.index) };
}

/**
 * Records what `onConnection` hears; `until(predicate, what)` waits for a
 * report that satisfies it (one already heard counts).
 */
function connectionLog() {
  const states = [];
  let waiters = [];
  const onConnection = (state) => {
    states.push(state);
    waiters = waiters.filter((w) => !w(state));
  };
  const until = (predicate, what, ms = WAIT_MS) =>
    withTimeout(
      new Promise((resolve) => {
        if (states.some(predicate)) return resolve();
        waiters.push((s) => (predicate(s) ? (resolve(), true) : false));
      }),
      ms,
      () => `${what} (heard ${JSON.stringify(states)})`,
    );
  return { states, onConnection, until };
}

/**
 * The rules every sequence of connection reports follows: only changes;
 * a loss reports 0 attempts, each failed attempt one more with the same
 * `since`; "connected" only after "reconnecting".
 */
function assertWellFormed(states) {
  const text = JSON.stringify(states);
  for (let i = 1; i < states.length; i++) {
    const [before, now] = [states[i - 1], states[i]];
    if (now.state === "connected") {
      assert.equal(before.state, "reconnecting", `connected twice in a row: ${text}`);
    } else if (before.state === "connected") {
      assert.deepEqual(Object.keys(now).sort(), ["attempts", "since", "state"], text);
      assert.equal(now.attempts, 0, `a loss starts at 0 attempts: ${text}`);
    } else {
      assert.equal(now.attempts, before.attempts + 1, `attempts count up by one: ${text}`);
      assert.equal(now.since, before.since, `since stays while reconnecting: ${text}`);
    }
  }
}

/** Reads the server's own NDJSON stream from `start` to `last` inclusive, as `token` sees it. */
async function rawEvents(start, last, token, base = REX_URL) {
  const abort = new AbortController();
  const query = new URLSearchParams({ start: String(start) });
  if (token) query.set("token", token);
  const response = await fetch(`${base}/rex/v0/events?${query}`, { signal: abort.signal });
  assert.equal(response.status, 200);
  const events = [];
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = response.body.getReader();
  const read = async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error("the stream ended");
      buffer += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line === "") continue;
        const event = JSON.parse(line);
        events.push(event);
        if (event.index >= last) return events;
      }
    }
  };
  try {
    return await withTimeout(read(), WAIT_MS, `raw events ${start}..=${last}`);
  } finally {
    abort.abort();
  }
}

/** The token a client saved (the client keeps it private). */
function savedToken(storage) {
  const key = "rex:" + REX_URL;
  return JSON.parse(storage.getItem(key)).token;
}

test("the server serves this very client.js, as JavaScript", { timeout: TEST_MS }, async () => {
  const response = await fetch(`${REX_URL}/rex/v0/client.js`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^text\/javascript(;|$)/);
  const served = Buffer.from(await response.arrayBuffer());
  assert.ok(served.equals(readFileSync(CLIENT_PATH)), "GET /rex/v0/client.js differs from rex/src/server/js/client.js");
});

test("connect creates a session; the same storage restores it; fresh storage makes a new one", { timeout: TEST_MS }, async () => {
  const storage = memoryStorage();
  const first = await connect({ name: "Alice", storage });
  assert.equal(first.restored, false);
  assert.match(first.session, UUID);
  assert.equal(first.info.app, "test");
  assert.match(first.epoch, UUID);
  assert.deepEqual(first.info.messages.slice(0, 3), ["noop", "burst", "tag"]);
  assert.ok(first.info.events.includes("secret"));

  const again = await connect({ name: "Alice", storage });
  assert.equal(again.restored, true);
  assert.equal(again.session, first.session);
  // The restored token works on the server.
  const receipt = await again.send("noop");
  assert.equal(receipt.count, 0);

  const other = await connect({ name: "Alice" });
  assert.equal(other.restored, false);
  assert.notEqual(other.session, first.session);

  // The server made exactly one `joined` for the first session.
  const joined = await rawEvents(0, receipt.first - 1, savedToken(storage));
  assert.equal(joined.filter((e) => e.kind === "joined" && e.data.session === first.session).length, 1);

  const anonymous = await connect({ anonymous: true });
  assert.equal(anonymous.session, null);
  await assert.rejects(anonymous.send("noop"), { name: "RexError", code: "no_session" });
});

test("send resolves with the receipt, or rejects with the server's code and reason", { timeout: TEST_MS }, async () => {
  const client = await connect({ name: "Sender" });
  const receipt = await client.send("tag", { tag: "x" });
  assert.deepEqual(Object.keys(receipt).sort(), ["count", "first"]);
  assert.equal(receipt.count, 1);
  assert.equal(typeof receipt.first, "number");

  const rejected = await client.send("emit_then_reject").then(
    () => assert.fail("emit_then_reject resolved"),
    (e) => e,
  );
  assert.ok(rejected instanceof RexError);
  assert.equal(rejected.status, 409);
  assert.equal(rejected.code, "rejected");
  assert.equal(rejected.reason, "rejected after emitting, on purpose");

  await assert.rejects(client.send("nope"), (e) => {
    assert.ok(e instanceof RexError);
    assert.equal(e.status, 400);
    assert.equal(e.code, "unknown_kind");
    assert.match(e.reason, /tag/);
    return true;
  });
  await assert.rejects(client.send("tag", { tag: 5 }), { code: "invalid_data", status: 422 });
  // The rejected message left the log unchanged.
  const next = await client.send("noop");
  assert.equal(next.first, receipt.first + 1);
});

test("events: every event once, in order; private events only for their sessions", { timeout: TEST_MS }, async (t) => {
  const aliceStorage = memoryStorage();
  const bobStorage = memoryStorage();
  const alice = await connect({ name: "Alice", storage: aliceStorage });
  const bob = await connect({ name: "Bob", storage: bobStorage });
  const anonymous = await connect({ anonymous: true });
  const { first: start } = await alice.send("noop");

  const seen = { alice: collector(), bob: collector(), anonymous: collector() };
  for (const [who, client] of [["alice", alice], ["bob", bob], ["anonymous", anonymous]]) {
    const sub = client.events({ start, onEvent: seen[who].onEvent });
    t.after(() => sub.close());
  }

  const burst = await alice.send("burst", 50);
  assert.equal(burst.count, 50);
  const forBob = await alice.send("secret", { to: [bob.session], text: "for bob" });
  const forAlice = await bob.send("secret", { to: [alice.session], text: "for alice" });
  const end = await bob.send("tag", { tag: "end" });
  for (const c of Object.values(seen)) await c.until(end.first);

  for (const [who, c] of Object.entries(seen)) {
    const indexes = c.indexes();
    for (let i = 1; i < indexes.length; i++) assert.ok(indexes[i] > indexes[i - 1], `${who}: ${indexes}`);
    const ticks = c.events.filter((e) => e.index >= burst.first && e.index < burst.first + 50);
    assert.deepEqual(
      ticks.map((e) => [e.index, e.kind, e.data.tag, e.origin]),
      Array.from({ length: 50 }, (_, i) => [burst.first + i, "tick", `burst-${i}`, alice.session]),
      who,
    );
    assert.equal(c.events.at(-1).data.tag, "end");
  }
  const secret = (c, index) => c.events.find((e) => e.index === index);
  assert.deepEqual(secret(seen.bob, forBob.first), {
    index: forBob.first,
    time: secret(seen.bob, forBob.first).time,
    kind: "secret",
    origin: alice.session,
    to: [bob.session],
    data: { text: "for bob" },
  });
  assert.equal(secret(seen.alice, forBob.first), undefined, "the sender is not in `to`");
  assert.deepEqual(secret(seen.alice, forAlice.first).to, [alice.session]);
  assert.equal(secret(seen.alice, forAlice.first).data.text, "for alice");
  assert.equal(secret(seen.bob, forAlice.first), undefined);
  assert.equal(seen.anonymous.events.filter((e) => e.kind === "secret").length, 0);
  assert.equal(alice.lastSeen, end.first);

  // Exactly what the server streams to each reader, no more, no less.
  assert.deepEqual(seen.alice.events, await rawEvents(start, end.first, savedToken(aliceStorage)));
  assert.deepEqual(seen.bob.events, await rawEvents(start, end.first, savedToken(bobStorage)));
  assert.deepEqual(seen.anonymous.events, await rawEvents(start, end.first, null));
});

test("events resume after lastSeen on a restored client: no gap, no repeat", { timeout: TEST_MS }, async (t) => {
  const storage = memoryStorage();
  const client = await connect({ name: "Resumer", storage });
  const { first: start } = await client.send("noop");
  const before = [];
  let sub = null;
  let closedAt = null;
  const closed = new Promise((resolve) => {
    sub = client.events({
      start,
      onEvent: (e) => {
        before.push(e);
        // Mid-way: at the tenth tick of the burst.
        if (before.filter((e) => e.kind === "tick").length === 10 && closedAt === null) {
          closedAt = e.index;
          sub.close();
          resolve();
        }
      },
    });
  });
  t.after(() => sub.close());
  const burst = await client.send("burst", 30);
  await withTimeout(closed, WAIT_MS, "the tenth tick");
  // Closing from inside onEvent stops delivery at once.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(closedAt, burst.first + 9);
  assert.equal(before.at(-1).index, closedAt);
  assert.equal(client.lastSeen, closedAt);

  const more = await client.send("burst", 30);
  const restored = await connect({ name: "Resumer", storage });
  assert.equal(restored.restored, true);
  assert.equal(restored.lastSeen, closedAt, "lastSeen is kept in storage");
  const after = collector();
  const sub2 = restored.events({ onEvent: after.onEvent });
  t.after(() => sub2.close());
  await after.until(more.first + 29);
  assert.equal(after.events[0].index, closedAt + 1);
  const all = [...before, ...after.events];
  assert.deepEqual(all, await rawEvents(start, more.first + 29, savedToken(storage)));
  assert.deepEqual(
    all.filter((e) => e.kind === "tick").map((e) => e.data.tag),
    [...Array.from({ length: 30 }, (_, i) => `burst-${i}`), ...Array.from({ length: 30 }, (_, i) => `burst-${i}`)],
  );
});

test("a stream cut again and again resumes with Last-Event-ID: each index once, in order", { skip: !CUT_URL, timeout: TEST_MS }, async (t) => {
  // Only the event stream goes through the cutting proxy: the client's own
  // requests (info, sessions, messages) are sent to the server directly.
  const direct = (url, init) => fetch(String(url).replace(CUT_URL, REX_URL), init);
  const sources = [];
  const Es = class extends eventSourceClass({ reconnectMs: 5 }) {
    constructor(url) {
      super(url);
      sources.push(this);
    }
  };
  const storage = memoryStorage();
  const client = await RexClient.connect({
    base: CUT_URL,
    name: "Cut",
    storage,
    storageKey: "rex:" + REX_URL,
    EventSource: Es,
    fetch: direct,
    retry: fastRetry,
  });
  const { first: start } = await client.send("noop");
  const seen = collector();
  const connection = connectionLog();
  const sub = client.events({ start, onEvent: seen.onEvent, onConnection: connection.onConnection });
  t.after(() => sub.close());

  // Events are appended while the stream is being cut.
  let last = start;
  for (let i = 0; i < 10; i++) {
    const r = await client.send("burst", 20);
    last = r.first + r.count - 1;
    await new Promise((r) => setTimeout(r, 10));
  }
  const end = await client.send("tag", { tag: "end" });
  await seen.until(end.first, WAIT_MS);

  assert.deepEqual(seen.events, await rawEvents(start, end.first, savedToken(storage)));
  assert.ok(last < end.first);
  const source = sources.at(-1);
  assert.equal(sources.length, 1, "the EventSource reconnected by itself; the client never had to reopen it");
  assert.ok(source.requests.length >= 10, `only ${source.requests.length} connections: were streams cut?`);
  const ids = source.requests.slice(1).map((r) => Number(r.lastEventId));
  assert.ok(
    source.requests.slice(1).every((r) => r.lastEventId !== null),
    "every reconnect sends Last-Event-ID",
  );
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] >= ids[i - 1], `Last-Event-ID went back: ${ids}`);

  // Each cut was reported, and each reopening.
  assert.deepEqual(connection.states[0], { state: "connected" });
  assertWellFormed(connection.states);
  const lost = connection.states.filter((s) => s.state === "reconnecting" && s.attempts === 0).length;
  const opened = connection.states.filter((s) => s.state === "connected").length;
  assert.ok(lost >= source.requests.length / 2, `${source.requests.length} connections, but only ${lost} losses reported`);
  assert.ok(opened >= source.requests.length / 2, `${source.requests.length} connections, but only ${opened} reported open`);
  assert.equal(sub.connection, connection.states.at(-1));
});

test("onConnection: connected, then reconnecting with each failed attempt, then connected again", { skip: !CUT_URL, timeout: TEST_MS }, async (t) => {
  // The stream goes through the cutting proxy; while `down`, opening it
  // fails as if the server could not be reached.
  let down = false;
  let refused = 0;
  const flaky = (url, init) => {
    if (down) {
      refused++;
      return Promise.reject(new TypeError("fetch failed (simulated: the server is unreachable)"));
    }
    return fetch(url, init);
  };
  const direct = (url, init) => fetch(String(url).replace(CUT_URL, REX_URL), init);
  const client = await RexClient.connect({
    base: CUT_URL,
    name: "Flaky",
    storage: memoryStorage(),
    storageKey: "rex:" + REX_URL,
    EventSource: eventSourceClass({ reconnectMs: 5, fetch: flaky }),
    fetch: direct,
    retry: fastRetry,
  });
  const { first: start } = await client.send("noop");
  const seen = collector();
  const connection = connectionLog();
  const sub = client.events({ start, onEvent: seen.onEvent, onConnection: connection.onConnection });
  t.after(() => sub.close());
  await connection.until((s) => s.state === "connected", "the first connection");
  assert.deepEqual(sub.connection, { state: "connected" });

  // The server becomes unreachable, and the burst makes the proxy cut the
  // open stream.
  const mark = connection.states.length;
  assert.equal(connection.states.at(-1).state, "connected");
  const lostAfter = Date.now();
  down = true;
  const burst = await client.send("burst", 20);
  await connection.until((s) => s.state === "reconnecting" && s.attempts >= 3, "three failed attempts");
  down = false;
  await connection.until((s) => s.state === "connected" && connection.states.indexOf(s) >= mark, "connected again");
  await seen.until(burst.first + 19);

  const after = connection.states.slice(mark);
  const back = after.findIndex((s) => s.state === "connected");
  const reconnecting = after.slice(0, back);
  assert.deepEqual(
    reconnecting.map((s) => [s.state, s.attempts]),
    reconnecting.map((_, i) => ["reconnecting", i]),
    JSON.stringify(after),
  );
  assert.ok(reconnecting.length >= 4, JSON.stringify(after));
  assert.ok(reconnecting[0].since >= lostAfter && reconnecting[0].since <= Date.now(), JSON.stringify(after));
  assert.ok(refused >= 3, `only ${refused} attempts were refused`);
  assertWellFormed(connection.states);
  assert.deepEqual(
    seen.events.filter((e) => e.kind === "tick").map((e) => e.data.tag),
    Array.from({ length: 20 }, (_, i) => `burst-${i}`),
    "nothing lost or repeated meanwhile",
  );
});

test("after a server restart: onResync with the new epoch, then new events", { skip: !RESTART_URL, timeout: TEST_MS }, async (t) => {
  const storage = memoryStorage();
  const client = await RexClient.connect({ base: RESTART_URL, name: "Phoenix", storage, EventSource: ES, retry: fastRetry });
  const oldEpoch = client.epoch;
  const burst = await client.send("burst", 3);
  const seen = collector();
  let resolveResync;
  const resynced = new Promise((r) => (resolveResync = r));
  const resyncs = [];
  const errors = [];
  // Connection reports and resyncs, in the order they came.
  const heard = [];
  const connection = connectionLog();
  const sub = client.events({
    start: 0,
    onEvent: seen.onEvent,
    onResync: (r) => {
      heard.push("resync");
      resyncs.push({ ...r, seenBefore: seen.events.length });
      resolveResync(r);
    },
    onError: (e) => errors.push(e),
    onConnection: (state) => {
      heard.push(state.state);
      connection.onConnection(state);
    },
  });
  t.after(() => sub.close());
  await seen.until(burst.first + 2);
  await connection.until((s) => s.state === "connected", "the first connection");

  const restart = await fetch(`${CONTROL_URL}/restart`, { method: "POST" });
  assert.equal(restart.status, 200);
  // A keep-alive connection to the proxy may have been closed by the
  // restart just now: undici does not retry on such a connection, so do.
  const info = await fetch(`${RESTART_URL}/rex/v0/info`)
    .catch(() => new Promise((r) => setTimeout(r, 50)).then(() => fetch(`${RESTART_URL}/rex/v0/info`)))
    .then((r) => r.json());
  assert.notEqual(info.epoch, oldEpoch);

  const resync = await withTimeout(resynced, WAIT_MS, "onResync");
  assert.equal(resync.epoch, info.epoch);
  assert.equal(typeof resync.head, "number");
  assert.equal(typeof resync.oldest, "number");
  assert.equal(typeof resync.reason, "string");
  assert.equal(client.epoch, info.epoch);
  assert.equal(resyncs.length, 1);

  // The old session does not exist on the new server: rejoin, then go on.
  await assert.rejects(client.send("noop"), { code: "unauthorized", status: 401 });
  const session = await client.rejoin("Phoenix");
  assert.match(session, UUID);
  const after = await client.send("tag", { tag: "after restart" });
  // (Indexes start again from 0: wait for this very event.)
  await seen.untilEvent((e) => e.kind === "tick" && e.data.tag === "after restart", "the tick after the restart");
  // Events of the new epoch: those delivered after onResync.
  const fresh = seen.events.slice(resyncs[0].seenBefore);
  assert.ok(fresh.length >= 2, JSON.stringify(fresh));
  assert.ok(fresh[0].index >= resync.head);
  const tick = fresh.find((e) => e.kind === "tick");
  assert.deepEqual([tick.index, tick.data.tag, tick.origin], [after.first, "after restart", session]);
  assert.ok(fresh.some((e) => e.kind === "joined" && e.data.session === session));
  assert.deepEqual(errors, []);
  assert.equal(client.lastSeen, after.first, "lastSeen follows the new epoch once rejoined");
  // The open subscription reads as the new session now: its private
  // events arrive too (before the fix in client.js's `rejoin`, the stream
  // stayed anonymous after a resync and they were skipped for good).
  const secret = await client.send("secret", { to: [session], text: "for the new me" });
  await seen.untilEvent((e) => e.kind === "secret", "the private event for the rejoined session");
  const delivered = seen.events.find((e) => e.kind === "secret");
  assert.deepEqual([delivered.index, delivered.to, delivered.data], [secret.first, [session], { text: "for the new me" }]);
  const newEpoch = seen.events.slice(resyncs[0].seenBefore).map((e) => e.index);
  assert.deepEqual(newEpoch, [...new Set(newEpoch)].sort((a, b) => a - b), "in order, once each");

  // The restart was reported as a loss, the new server's stream as a new
  // connection: connected, reconnecting (and failed attempts while the
  // server was down), the resync, connected.
  assertWellFormed(connection.states);
  const resyncAt = heard.indexOf("resync");
  assert.equal(heard[0], "connected", heard.join(" "));
  assert.equal(heard[resyncAt - 1], "reconnecting", `the stream was lost before the resync: ${heard.join(" ")}`);
  assert.ok(heard.slice(resyncAt).includes("connected"), `connected again after the resync: ${heard.join(" ")}`);
});

test("snapshot: the state with its index; events({snapshot}) follows from there; serverTime", { timeout: TEST_MS }, async (t) => {
  const client = await connect({ name: "Snap" });
  assert.equal(typeof client.info.time, "number");
  const clock = client.serverTime();
  assert.ok(clock >= client.info.time && clock < client.info.time + WAIT_MS, `${clock} vs ${client.info.time}`);
  await client.send("tag", { tag: "one" });
  const last = await client.send("tag", { tag: "two" });

  const snap = await client.snapshot();
  assert.equal(snap.epoch, client.epoch);
  assert.equal(snap.index, last.first + 1, "every event so far is in the snapshot");
  assert.equal(typeof snap.time, "number");
  assert.ok(snap.data.tags >= 2);
  assert.equal(snap.data.viewer, client.session, "the snapshot is taken as this session");
  const anonymous = await connect({ anonymous: true });
  assert.equal((await anonymous.snapshot()).data.viewer, null);

  const seen = collector();
  const snapshots = [];
  let snapshotTaken;
  const taken = new Promise((resolve) => (snapshotTaken = resolve));
  const sub = client.events({
    snapshot: true,
    onSnapshot: (s) => {
      snapshots.push(s);
      snapshotTaken();
    },
    onEvent: seen.onEvent,
  });
  t.after(() => sub.close());
  // The subscription fetches its snapshot asynchronously: send only once it
  // has one, so "three" is an event after the snapshot and must be
  // delivered. (Sent earlier, it may already be in the snapshot, and then it
  // is rightly never delivered.)
  await withTimeout(taken, WAIT_MS, "the subscription's snapshot");
  const next = await client.send("tag", { tag: "three" });
  await seen.until(next.first);
  assert.equal(snapshots.length, 1);
  const [first] = snapshots;
  assert.ok(first.index >= snap.index && first.index <= next.first, `snapshot at ${first.index}, "three" at ${next.first}`);
  // Nothing the snapshot reflects arrives again; everything after does.
  assert.ok(seen.events.every((e) => e.index >= first.index), JSON.stringify(seen.indexes()));
  const tick = seen.events.find((e) => e.index === next.first);
  assert.deepEqual([tick.kind, tick.data.tag], ["tick", "three"]);
  assert.ok(client.serverTime() >= tick.time, "each event delivered raises the clock to at least its time");
  assert.equal((await client.snapshot()).data.tags, first.data.tags + 1);
  assert.equal(seen.events.length, next.first - first.index + 1);
});

test("events({snapshot}) takes a new snapshot after a server restart and follows the new log", { skip: !RESTART_URL, timeout: TEST_MS }, async (t) => {
  const client = await RexClient.connect({ base: RESTART_URL, anonymous: true, storage: memoryStorage(), EventSource: ES, retry: fastRetry });
  const writer = await RexClient.connect({ base: RESTART_URL, name: "Writer", storage: memoryStorage(), EventSource: ES, retry: fastRetry });
  await writer.send("tag", { tag: "before" });
  const oldEpoch = client.epoch;
  const snapshots = [];
  let wake = () => {};
  const seen = collector();
  const sub = client.events({
    snapshot: true,
    onSnapshot: (s) => {
      snapshots.push(s);
      wake();
    },
    onEvent: seen.onEvent,
  });
  t.after(() => sub.close());
  const waitSnapshots = (n) =>
    withTimeout(
      new Promise((resolve) => {
        wake = () => snapshots.length >= n && resolve();
        wake();
      }),
      WAIT_MS,
      `${n} snapshot(s)`,
    );
  await waitSnapshots(1);
  assert.equal(snapshots[0].epoch, oldEpoch);
  assert.ok(snapshots[0].data.tags >= 1);

  const restart = await fetch(`${CONTROL_URL}/restart`, { method: "POST" });
  assert.equal(restart.status, 200);
  await waitSnapshots(2);
  const [, second] = snapshots;
  assert.notEqual(second.epoch, oldEpoch, "the new snapshot is of the new log");
  assert.equal(second.data.tags, 0, "the restarted app's state, not the old one");
  assert.equal(client.epoch, second.epoch);

  await writer.rejoin("Writer");
  const after = await writer.send("tag", { tag: "after" });
  await seen.untilEvent((e) => e.kind === "tick" && e.data.tag === "after", "the tick after the restart");
  const tick = seen.events.find((e) => e.kind === "tick" && e.data.tag === "after");
  assert.equal(tick.index, after.first);
  assert.ok(tick.index >= second.index);
});

test("send retries a lost response with the same id: the app handles it once", { timeout: TEST_MS }, async () => {
  const posts = [];
  let lost = null;
  const lossy = async (url, init = {}) => {
    const response = await fetch(url, init);
    if (init.method === "POST" && String(url).endsWith("/rex/v0/messages")) {
      const body = JSON.parse(init.body);
      posts.push(body);
      if (body.kind === "count" && lost === null) {
        // The server has handled it; the answer is lost on the way back.
        lost = { id: body.id, status: response.status, receipt: await response.json() };
        throw new TypeError("fetch failed (simulated: connection reset after the request was sent)");
      }
    }
    return response;
  };
  const storage = memoryStorage();
  const client = await connect({ name: "Counter", storage, fetch: lossy });
  const receipt = await client.send("count");
  assert.equal(lost.status, 200);
  const counts = posts.filter((p) => p.kind === "count");
  assert.equal(counts.length, 2, "one retry");
  assert.equal(counts[1].id, counts[0].id, "the retry has the same id");
  assert.deepEqual(receipt, lost.receipt, "the retry's answer is the first outcome");
  assert.equal(receipt.count, 1);

  const events = await rawEvents(receipt.first, receipt.first, savedToken(storage));
  assert.deepEqual([events.at(-1).kind, events.at(-1).data], ["counted", { times: 1 }]);
  // The next one is the app's second: it saw the first exactly once.
  const next = await client.send("count");
  const nextEvents = await rawEvents(next.first, next.first, savedToken(storage));
  assert.deepEqual(nextEvents.at(-1).data, { times: 2 });
  assert.notEqual(posts.at(-1).id, counts[0].id);
});

/**
 * A small HTTP server in front of the real one that refuses the first
 * `refusals` message posts with `status` (a 429 with `retry_after: 1`, or
 * a 408), then passes everything through: what the limits of a busy
 * server look like to a client.
 */
async function refusingFront(status, refusals) {
  const { createServer } = await import("node:http");
  const posts = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    if (req.method === "POST" && req.url === "/rex/v0/messages") {
      posts.push({ at: Date.now(), body: JSON.parse(body.toString()) });
      if (posts.length <= refusals) {
        const error =
          status === 429
            ? { error: "too_many_requests", reason: "this session sends too fast; wait 1 s", retry_after: 1 }
            : { error: "request_timeout", reason: "the body took too long to arrive" };
        res.writeHead(status, { "content-type": "application/json", ...(status === 429 ? { "retry-after": "1" } : {}) });
        res.end(JSON.stringify(error));
        return;
      }
    }
    const headers = { ...req.headers };
    delete headers.host;
    delete headers["content-length"];
    const upstream = await fetch(REX_URL + req.url, {
      method: req.method,
      headers,
      body: req.method === "GET" ? undefined : body,
    });
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") || "application/json" });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, posts, close: () => server.close() };
}

test("429: send waits the retry_after the server asked for and retries the same id", { timeout: TEST_MS }, async (t) => {
  const front = await refusingFront(429, 2);
  t.after(() => front.close());
  const client = await connect({ base: front.url, name: "Patient" });
  const started = Date.now();
  const receipt = await client.send("count");
  assert.equal(receipt.count, 1);
  assert.equal(front.posts.length, 3, "two refusals, then through");
  assert.ok(new Set(front.posts.map((p) => p.body.id)).size === 1, "every retry has the same id");
  // Each retry waited at least the second the server asked for (a lower
  // bound only: a busy machine makes it longer, never shorter).
  assert.ok(front.posts[1].at - front.posts[0].at >= 900, "the first retry waited retry_after");
  assert.ok(Date.now() - started >= 1800);
});

test("429 and 408 past the retry budget reject with their code and a reason", { timeout: TEST_MS }, async (t) => {
  const busy = await refusingFront(429, 100);
  t.after(() => busy.close());
  const client = await connect({ base: busy.url, name: "Impatient", retry: { attempts: 2, initialMs: 5, maxMs: 10 } });
  await assert.rejects(client.send("noop"), (e) => {
    assert.ok(e instanceof RexError);
    assert.equal(e.status, 429);
    assert.equal(e.code, "too_many_requests");
    assert.match(e.reason, /too fast/);
    assert.equal(e.body.retry_after, 1);
    return true;
  });
  assert.equal(busy.posts.length, 2, "the budget is two attempts");

  const slow = await refusingFront(408, 1);
  t.after(() => slow.close());
  const retried = await connect({ base: slow.url, name: "Slow" });
  assert.equal((await retried.send("noop")).count, 0, "a 408 is retried and then goes through");
  assert.equal(slow.posts.length, 2);
});

test("a room with a PIN: connect without it or with a wrong one is forbidden; with it, joins", { skip: !PIN_URL, timeout: TEST_MS }, async () => {
  const options = { base: PIN_URL, name: "Guest" };
  await assert.rejects(connect(options), (e) => {
    assert.equal(e.status, 403);
    assert.equal(e.code, "forbidden");
    assert.match(e.reason, /needs a PIN/);
    return true;
  });
  await assert.rejects(connect({ ...options, pin: "1111" }), { code: "forbidden", reason: /wrong PIN/ });
  const client = await connect({ ...options, pin: PIN });
  assert.match(client.session, UUID);
  assert.equal((await client.send("noop")).count, 0);
});

test("a room of a host: joined at its URL, served its client.js, and its end is final", { skip: !ROOM_URL || !CONTROL_URL, timeout: TEST_MS }, async () => {
  // The room serves this client too, under its path.
  const response = await fetch(`${ROOM_URL}/rex/v0/client.js`);
  assert.equal(response.status, 200);
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(readFileSync(CLIENT_PATH)));

  const client = await connect({ base: ROOM_URL + "/", name: "Roomy" });
  assert.equal(client.base, ROOM_URL);
  const seen = collector();
  const ended = new Promise((resolve) => {
    client.events({ start: 0, onEvent: seen.onEvent, onError: resolve, onResync: (r) => assert.fail(`resync after the end: ${JSON.stringify(r)}`) });
  });
  const receipt = await client.send("tag", { tag: "in the room" });
  await seen.until(receipt.first);
  const tick = seen.events.find((e) => e.index === receipt.first);
  assert.deepEqual([tick.kind, tick.data], ["tick", { tag: "in the room" }]);

  const code = new URL(ROOM_URL).pathname.split("/").pop();
  const end = await fetch(`${CONTROL_URL}/end-room/${code}`, { method: "POST" });
  assert.equal(end.status, 200, `closing room ${code}`);
  const error = await withTimeout(ended, WAIT_MS, "onError after the room ended");
  assert.ok(error instanceof RexError);
  assert.equal(error.code, "gone");
  assert.equal(error.status, 410);
  assert.equal(error.reason, `room ${code} has ended; ask for the code of the next game`);
  await assert.rejects(client.send("noop"), { name: "RexError", code: "gone", status: 410 });
});

test("a module loaded from a room's URL, given no base, reaches that room", { skip: !SERVED_ROOM_URL, timeout: TEST_MS }, async () => {
  const served = await import(`${SERVED_ROOM_URL}/rex/v0/client.js`);
  const before = await (await fetch(`${SERVED_ROOM_URL}/rex/v0/info`)).json();
  const client = await served.RexClient.connect({ name: "Served", EventSource: ES, storage: memoryStorage(), retry: fastRetry });
  assert.equal(client.base, SERVED_ROOM_URL);
  const receipt = await client.send("tag", { tag: "from the served module" });
  // The room's own log has the join and the note, at the indexes the
  // client was given: nothing went to the host's root or another room.
  const after = await (await fetch(`${SERVED_ROOM_URL}/rex/v0/info`)).json();
  assert.equal(after.name, "Served room");
  assert.equal(after.sessions, before.sessions + 1);
  assert.equal(after.head, receipt.first + 1);
  const seen = collector();
  const subscription = client.events({ start: 0, onEvent: seen.onEvent });
  try {
    await seen.until(receipt.first);
  } finally {
    subscription.close();
  }
  const tick = seen.events.find((e) => e.index === receipt.first);
  assert.deepEqual([tick.kind, tick.data, tick.origin], ["tick", { tag: "from the served module" }, client.session]);
});

test("a room served by another host: followed, kept, and left for the base given and the peers when its host dies", { skip: !MOVED_URL || !CONTROL_URL, timeout: TEST_MS }, async () => {
  const control = async (method, what) => {
    const response = await fetch(`${CONTROL_URL}/${what}`, { method });
    assert.equal(response.status, 200, what);
    return response.text();
  };
  const storage = memoryStorage();
  const client = await connect({ base: MOVED_URL, name: "Mover", storage });
  assert.equal(client.base, MOVED_FIRST, "the base of the room's owner");
  assert.ok(storage.getItem("rex:" + MOVED_URL), "the session is saved under the base given");
  const seen = collector();
  const subscription = client.events({ start: 0, onEvent: seen.onEvent });
  try {
    // A send carries the token, which fetch would drop on a redirect to
    // another origin: it goes to the owner directly.
    const one = await client.send("tag", { tag: "one" });
    await seen.until(one.first);
    const code = new URL(MOVED_URL).pathname;
    assert.deepEqual(
      (await control("GET", "seen")).split("\n").filter((l) => l.startsWith("GET /r/") || l.startsWith("POST")),
      [`GET ${code}/rex/v0/info`],
      "the host given saw the first request only (and the question for its peers)",
    );

    // The owner dies; the host given sends the room to the second.
    await control("POST", "move");
    const two = await client.send("tag", { tag: "two" });
    assert.equal(client.base, MOVED_SECOND);
    await seen.until(two.first);

    // The host given dies too: the peer it listed serves the room.
    await control("POST", "lose-group");
    const three = await client.send("tag", { tag: "three" });
    assert.equal(client.base, MOVED_PEER);
    await seen.until(three.first);

    // The stream followed, every index once, in order.
    const indexes = seen.indexes();
    assert.deepEqual(indexes, [...Array(indexes.length).keys()]);
    const tags = seen.events.filter((e) => e.kind === "tick").map((e) => e.data.tag);
    assert.deepEqual(tags, ["one", "two", "three"]);
  } finally {
    subscription.close();
  }
});
