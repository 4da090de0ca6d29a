// REx JavaScript client (ES module), served by every REx server at
// /rex/v0/client.js (and by every room of a host at /r/CODE/rex/v0/client.js).
// No dependencies. Protocol: docs/protocol.md.
//
//   import { RexClient } from "/rex/v0/client.js";
//   const rex = await RexClient.connect({ name: "Alice" });
//   rex.events({ onEvent: (e) => console.log(e.index, e.kind, e.data) });
//   await rex.send("say", { text: "hi" });

const BASE = "/rex/v0";
const MODULE_PATH = BASE + "/client.js";

/**
 * The base URL a client talks to when not told: the server (or room) that
 * served this module, which is the URL it was imported from minus
 * /rex/v0/client.js. A page of room KXQF that imports
 * ./rex/v0/client.js gets http://host:port/r/KXQF. A module loaded some
 * other way (bundled, copied) falls back to the page's origin.
 */
function defaultBase() {
  let url = null;
  try {
    url = new URL(import.meta.url);
  } catch (_) {
    url = null;
  }
  if (url && (url.protocol === "http:" || url.protocol === "https:") && url.pathname.endsWith(MODULE_PATH)) {
    return url.origin + url.pathname.slice(0, -MODULE_PATH.length);
  }
  return globalThis.location ? globalThis.location.origin : "";
}

/** `base` without a trailing slash or /rex/v0; a query or fragment is refused. */
function normalizeBase(base) {
  if (/[?#]/.test(base)) {
    throw new TypeError(`the base URL must not have a query or fragment: ${base}`);
  }
  return base.replace(/\/+$/, "").replace(/\/rex\/v0$/, "").replace(/\/+$/, "");
}

/** An error answer from the server, or a network failure after retries. */
export class RexError extends Error {
  constructor(status, code, reason, body) {
    super(`${code}: ${reason}`);
    this.name = "RexError";
    /** HTTP status (0 when the server could not be reached). */
    this.status = status;
    /** Protocol error code ("rejected", "unknown_kind", …, or "network"). */
    this.code = code;
    /** The server's reason, meant for people. */
    this.reason = reason;
    /** The whole error body (a `gone` body carries epoch, oldest, head). */
    this.body = body || {};
  }
}

// A monotonic clock for estimating the server's, where there is one.
const now = () => (globalThis.performance ? globalThis.performance.now() : Date.now());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with jitter: step n waits in [half, full] of min(initial·2^n, max). */
function backoff(retry, n) {
  const step = Math.min(retry.initialMs * 2 ** Math.min(n, 16), retry.maxMs);
  return step * (0.5 + Math.random() / 2);
}

// The code and a reason a person can act on, for an error answer whose
// body is not the protocol's JSON (a proxy's page, a server under load);
// the server's own body, when there is one, says it better.
const STATUS_ERRORS = {
  403: ["forbidden", "the room refused this request (a wrong or missing PIN, or a page from another site); ask the host"],
  408: ["request_timeout", "the request took too long to arrive; check the connection and try again"],
  410: ["gone", "this room has ended"],
  429: ["too_many_requests", "too many requests; wait a moment and try again"],
};

async function readError(response) {
  let body = {};
  try {
    body = await response.json();
  } catch (_) {
    body = {};
  }
  const [code, reason] = STATUS_ERRORS[response.status] || ["http_" + response.status, response.statusText];
  if (body.retry_after === undefined && response.headers && response.headers.get) {
    const header = Number(response.headers.get("retry-after"));
    if (Number.isFinite(header) && header >= 0) body.retry_after = header;
  }
  return new RexError(response.status, body.error || code, body.reason || reason, body);
}

/** How long the server asked to wait before retrying, in ms (0: no ask). */
function retryAfterMs(error) {
  const seconds = error && error.body ? Number(error.body.retry_after) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

/** A typed-by-convention client for one REx server. */
export class RexClient {
  /**
   * Connects: reads /info, then restores the saved session (same epoch) or
   * creates a new one. Credentials are kept in `storage` (localStorage by
   * default) under `storageKey`, so a reloaded page is the same player.
   */
  static async connect(options = {}) {
    // `pin`: the room's PIN, for a server started with one; sent whenever
    // this client creates a session. A missing or wrong one rejects with a
    // RexError whose code is "forbidden" and whose reason says which.
    const client = new RexClient(options);
    await client.#join(options.name, options.anonymous === true);
    return client;
  }

  #base;
  #fetch;
  #EventSource;
  #storage;
  #key;
  #retry;
  #pin;
  #nextId;
  #creds = null;
  #info = null;
  #restored = false;
  // The server's log clock minus ours, from the last answer that carried it.
  #clockOffset = null;
  // The open subscriptions, paused while `rejoin` makes a new session.
  #subscriptions = new Set();

  constructor(options = {}) {
    // `base` may carry a path: a room of a host (http://host:port/r/KXQF),
    // or a reverse proxy's prefix. Every request goes under it.
    this.#base = normalizeBase(options.base || defaultBase());
    this.#fetch = options.fetch || globalThis.fetch.bind(globalThis);
    this.#EventSource = options.EventSource || globalThis.EventSource;
    this.#storage = options.storage === undefined ? globalThis.localStorage || null : options.storage;
    this.#key = options.storageKey || "rex:" + this.#base;
    this.#retry = Object.assign({ attempts: 8, initialMs: 100, maxMs: 5000 }, options.retry || {});
    this.#pin = options.pin === undefined || options.pin === null ? undefined : String(options.pin);
    // A random start below 2^52 (exact in JavaScript numbers), so a
    // reloaded page does not reuse ids the server still remembers.
    this.#nextId = Math.floor(Math.random() * 2 ** 52);
  }

  /**
   * The base URL every request goes under: `options.base`, or the server
   * or room that served this module, or the page's origin; without a
   * trailing slash or /rex/v0 (http://host:port/r/KXQF).
   */
  get base() {
    return this.#base;
  }

  /** The session id (null for an anonymous client). */
  get session() {
    return this.#creds ? this.#creds.session : null;
  }

  /** The epoch of the server's log. */
  get epoch() {
    return this.#info ? this.#info.epoch : null;
  }

  /** What `GET /info` said at connect (app, name, kinds, head…). */
  get info() {
    return this.#info;
  }

  /** Whether the saved session was restored (false: a new one was made). */
  get restored() {
    return this.#restored;
  }

  /** The last event index this page has seen in the current epoch, or null. */
  get lastSeen() {
    return this.#creds && this.#creds.lastSeen !== undefined ? this.#creds.lastSeen : null;
  }

  /**
   * The server's log clock now, estimated: milliseconds since the epoch
   * began, the clock of every event's `time` (and of times an app puts in
   * its events, such as a deadline). Learnt from /info and snapshots (taken
   * at the middle of the request) and raised by each event delivered (the
   * clock was at least its `time` when it arrived), so it never runs back.
   * null before connect.
   */
  serverTime() {
    return this.#clockOffset === null ? null : now() + this.#clockOffset;
  }

  /** The server's clock was about (or at least) `serverMs` at local `at`. */
  #setClock(serverMs, at) {
    if (typeof serverMs !== "number" || !Number.isFinite(serverMs)) return;
    const offset = serverMs - at;
    if (this.#clockOffset === null || offset > this.#clockOffset) this.#clockOffset = offset;
  }

  /** A new epoch's log clock starts again from 0. */
  #newEpoch(epoch) {
    if (this.#info && this.#info.epoch !== epoch) this.#clockOffset = null;
    if (this.#info) this.#info.epoch = epoch;
  }

  /**
   * The app's state as of an index of the log (`GET /snapshot`), as this
   * session may see it: `{epoch, index, time, data}`. `data` reflects every
   * event before `index`; follow the log from `index` (or use
   * `events({snapshot: true})`, which does both). Rejects with a RexError
   * with code "not_found" if the app provides no snapshots.
   */
  async snapshot() {
    const creds = this.#creds;
    const token = creds && this.#info && creds.epoch === this.#info.epoch ? creds.token : undefined;
    const asked = now();
    const record = await this.#call("GET", BASE + "/snapshot", { token, retryLost: true });
    this.#newEpoch(record.epoch);
    this.#setClock(record.time, (asked + now()) / 2);
    return record;
  }

  /** Forgets the saved session (a new one is made on the next connect). */
  forget() {
    if (this.#storage) this.#storage.removeItem(this.#key);
    this.#creds = null;
  }

  async #call(method, path, { body, token, retryLost } = {}) {
    const headers = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token) headers["authorization"] = "Bearer " + token;
    let lastError = null;
    for (let attempt = 0; attempt < this.#retry.attempts; attempt++) {
      if (attempt > 0) await sleep(Math.max(backoff(this.#retry, attempt - 1), retryAfterMs(lastError)));
      let response;
      try {
        response = await this.#fetch(this.#base + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        // The request may or may not have reached the server.
        lastError = new RexError(0, "network", "could not reach the server: " + e.message);
        if (!retryLost) throw lastError;
        continue;
      }
      // Refused before anything happened: too many requests (429), a body
      // too slow to arrive (408), or a server stopping (503). The same
      // request, id and all, can go again, after the wait the server asked
      // for (`retry_after`), within the retry budget.
      if (response.status === 503 || response.status === 429 || response.status === 408) {
        lastError = await readError(response);
        continue;
      }
      if (!response.ok) throw await readError(response);
      return response.json();
    }
    throw lastError;
  }

  #save() {
    if (this.#storage && this.#creds) this.#storage.setItem(this.#key, JSON.stringify(this.#creds));
  }

  async #join(name, anonymous) {
    const asked = now();
    this.#info = await this.#call("GET", BASE + "/info", { retryLost: true });
    this.#setClock(this.#info.time, (asked + now()) / 2);
    if (anonymous) return;
    let saved = null;
    try {
      saved = this.#storage ? JSON.parse(this.#storage.getItem(this.#key) || "null") : null;
    } catch (_) {
      saved = null;
    }
    if (saved && saved.epoch === this.#info.epoch && saved.token) {
      this.#creds = saved;
      this.#restored = true;
      return;
    }
    await this.rejoin(name);
  }

  /**
   * Creates a new session on the server (after a restart made the old one
   * invalid). Not retried when the answer is lost: that would make a
   * second, ghost session.
   */
  async rejoin(name) {
    // Open subscriptions stop reading while the session is made, then
    // reopen from where they were with the new token: otherwise they would
    // go on without it (after a restart they read anonymously) and miss
    // the new session's private events.
    const paused = [...this.#subscriptions];
    for (const subscription of paused) subscription.pause();
    try {
      const body = name === undefined ? {} : { name };
      if (this.#pin !== undefined) body.pin = this.#pin;
      const created = await this.#call("POST", BASE + "/sessions", {
        body,
        retryLost: false,
      });
      this.#info.epoch = created.epoch;
      this.#creds = { session: created.session, token: created.token, epoch: created.epoch, joinedAt: created.next };
      this.#restored = false;
      this.#save();
      return created.session;
    } finally {
      for (const subscription of paused) subscription.resume();
    }
  }

  /**
   * Sends a message and resolves when the app has handled it, with the
   * receipt `{first, count}`. Retries network failures with the same id,
   * so the app handles it once. A refusal rejects with a RexError whose
   * code is "rejected" and whose reason is the app's.
   */
  async send(kind, data) {
    if (!this.#creds) throw new RexError(0, "no_session", "this client has no session; connect with a name to send");
    const body = { kind, id: this.#nextId++ };
    if (data !== undefined) body.data = data;
    return this.#call("POST", BASE + "/messages", { body, token: this.#creds.token, retryLost: true });
  }

  /**
   * Follows the log with EventSource: from `start`, or after the last event
   * this page saw, or from 0. Every event is delivered once, in order:
   * `onEvent({index, time, kind, origin, to, data})`. On `410 gone` (the
   * server restarted, or dropped the events this page missed) it calls
   * `onResync({epoch, oldest, head, reason})` and continues from the head;
   * a `410` without them means the room itself has ended (a room of a
   * host) and is final: `onError` hears it (code "gone").
   * `onError(RexError)` hears errors that retrying will not fix; the
   * subscription then stops. With `snapshot: true` it first fetches the
   * app's snapshot, hands it to `onSnapshot({epoch, index, time, data})`
   * and follows from its index; after a resync it fetches a new one.
   *
   * `onConnection(state)` hears whether the stream is connected, for a
   * page that shows it (the subscription reconnects by itself either way):
   * `{state: "connected"}` each time a stream opens (the first time too),
   * and `{state: "reconnecting", since, attempts}` when it is lost
   * (`attempts` 0) and again after each attempt that fails (1, 2, …);
   * `since` is when it was lost (`Date.now()` then), or when the first
   * attempt failed if it was never open. A state is only reported when it
   * changes. Returns `{close(), cursor, connection}`, `connection` being
   * the last state reported (null before the first).
   */
  events({ start, snapshot, onEvent, onResync, onSnapshot, onError, onOpen, onConnection } = {}) {
    const client = this;
    let cursor = start !== undefined ? start : this.lastSeen !== null ? this.lastSeen + 1 : 0;
    let epoch = this.epoch;
    let source = null;
    let closed = false;
    let paused = false;
    let failures = 0;
    // The last connection state reported, so each change is reported once.
    let connection = null;

    const report = (state) => {
      if (connection && connection.state === state.state && connection.attempts === state.attempts) return;
      connection = Object.freeze(state);
      if (onConnection) onConnection(connection);
    };
    // The open stream is gone. A stream this page closed itself (to reopen
    // it) is not lost: only a loss the page did not choose is reported.
    const lost = () => {
      if (connection && connection.state === "connected") {
        report({ state: "reconnecting", since: Date.now(), attempts: 0 });
      }
    };
    // An attempt to (re)open the stream failed.
    const failed = () => {
      const was = connection && connection.state === "reconnecting" ? connection : null;
      report({
        state: "reconnecting",
        since: was ? was.since : Date.now(),
        attempts: was ? was.attempts + 1 : 1,
      });
    };

    const url = () => {
      const query = new URLSearchParams({ start: String(cursor) });
      if (epoch) query.set("epoch", epoch);
      const creds = client.#creds;
      if (creds && creds.epoch === epoch) query.set("token", creds.token);
      return client.#base + BASE + "/events?" + query.toString();
    };

    const deliver = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      if (typeof event.index !== "number" || event.index < cursor) return;
      cursor = event.index + 1;
      client.#setClock(event.time, now());
      failures = 0;
      if (client.#creds && client.#creds.epoch === epoch) {
        client.#creds.lastSeen = event.index;
        client.#save();
      }
      if (onEvent) onEvent(event);
    };

    const open = () => {
      if (closed || paused) return;
      if (source) source.close();
      const opened = new client.#EventSource(url());
      source = opened;
      source.onopen = () => {
        failures = 0;
        report({ state: "connected" });
        if (onOpen) onOpen();
      };
      source.onmessage = deliver;
      // Named SSE events (`event: <kind>`) only reach listeners registered
      // for that name: register every kind the server's app emits.
      for (const kind of (client.#info && client.#info.events) || []) {
        source.addEventListener(kind, deliver);
      }
      source.onerror = () => {
        if (closed || opened !== source) return;
        // EventSource retries by itself (with Last-Event-ID) while the
        // answer was 200, firing `error` when the stream is lost and after
        // each attempt that fails; once it is CLOSED, the server refused
        // the request: find out why.
        if (opened.readyState !== 2) {
          if (connection && connection.state === "connected") lost();
          else failed();
          return;
        }
        opened.close();
        lost();
        diagnose();
      };
    };

    const diagnose = async () => {
      failures++;
      let response = null;
      try {
        response = await client.#fetch(url(), { headers: { accept: "application/x-ndjson" } });
      } catch (_) {
        response = null;
      }
      if (closed) return;
      if (response && response.ok) {
        // It answers now: a passing failure. Do not read the stream here.
        if (response.body && response.body.cancel) response.body.cancel().catch(() => {});
        failed();
      } else if (response && response.status === 410) {
        const error = await readError(response);
        if (error.body.oldest === undefined || error.body.head === undefined) {
          // No bounds to resync to: the room itself has ended (a room of
          // a host). That is final.
          closed = true;
          if (source) source.close();
          if (onError) onError(error);
          return;
        }
        epoch = error.body.epoch || epoch;
        cursor = error.body.head !== undefined ? error.body.head : cursor;
        client.#newEpoch(epoch);
        failures = 0;
        if (onResync) onResync({ epoch, oldest: error.body.oldest, head: cursor, reason: error.reason });
        if (snapshot) {
          begin();
        } else {
          open();
        }
        return;
      } else if (response && response.status !== 503 && response.status < 500) {
        closed = true;
        if (onError) onError(await readError(response));
        return;
      } else {
        failed();
      }
      await sleep(backoff(client.#retry, failures - 1));
      open();
    };

    // A phone that was locked comes back with a stream the OS may have
    // silently killed: reopen from where it was.
    const onVisible = () => {
      if (!closed && globalThis.document && globalThis.document.visibilityState === "visible" && source) {
        source.close();
        open();
      }
    };
    if (globalThis.document && globalThis.document.addEventListener) {
      globalThis.document.addEventListener("visibilitychange", onVisible);
    }

    const control = {
      pause() {
        paused = true;
        if (source) source.close();
        source = null;
      },
      resume() {
        paused = false;
        open();
      },
    };
    client.#subscriptions.add(control);

    // With `snapshot`: the state first, then the log from where it ends.
    const begin = async () => {
      let record;
      try {
        record = await client.snapshot();
      } catch (error) {
        if (closed) return;
        if (error.status === 0 || error.status === 503 || error.status >= 500) {
          failures++;
          failed();
          await sleep(backoff(client.#retry, failures - 1));
          begin();
        } else {
          closed = true;
          if (onError) onError(error);
        }
        return;
      }
      if (closed) return;
      epoch = record.epoch;
      cursor = record.index;
      failures = 0;
      if (onSnapshot) onSnapshot(record);
      open();
    };

    if (snapshot) {
      begin();
    } else {
      open();
    }
    return {
      close() {
        closed = true;
        client.#subscriptions.delete(control);
        if (source) source.close();
        if (globalThis.document && globalThis.document.removeEventListener) {
          globalThis.document.removeEventListener("visibilitychange", onVisible);
        }
      },
      /** The next index this subscription wants. */
      get cursor() {
        return cursor;
      },
      /** The last connection state reported to `onConnection`, or null. */
      get connection() {
        return connection;
      },
    };
  }
}
