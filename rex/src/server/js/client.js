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

// A room's path on a host (docs/protocol.md §15): /r/<CODE> at the end of a base.
const ROOM_PATH = /\/r\/[^/]+$/;
// How many times one request is sent on to a room's new base; one more is
// a RexError with code "moved".
const MAX_REDIRECTS = 5;
// How long a fallback waits for the host's peers, if it is still asking.
const PEERS_WAIT_MS = 2000;

/** `url` as a URL, relative to the page if it is relative; null if it is no URL. */
function absolute(url) {
  try {
    return new URL(url, globalThis.location ? globalThis.location.href : undefined);
  } catch (_) {
    return null;
  }
}

/** The path of a base URL (`/r/KXQF`), "" for a root. */
function pathOf(base) {
  const url = absolute(base);
  return url ? url.pathname.replace(/\/+$/, "") : "";
}

/**
 * Where a redirect took a request (docs/protocol.md §16): a request of
 * `path` (`/rex/v0/events?start=3`) sent under `base`
 * (`http://h:1/r/KXQF`) was answered from `url` (the response's URL, after
 * the redirects fetch followed). The base `url` is under: the same path
 * and query, on another address (`http://h2:7/r/KXQF`), or `base`'s own
 * origin if it was not moved at all. null when `url` is anything else: a
 * redirect out of the room, whose answer is not the room's.
 */
export function movedBase(base, path, url) {
  const sent = absolute(base + path);
  const got = absolute(url);
  if (!sent || !got) return null;
  if (got.protocol !== sent.protocol || got.username || got.password || got.hash) return null;
  if (got.pathname + got.search !== sent.pathname + sent.search) return null;
  return got.origin + pathOf(base);
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

  // Where requests go now: the base the last redirect named, or one of
  // `#bases` (docs/protocol.md §16).
  #base;
  // The base given first, then the host's peers (with the room's path)
  // once learnt: where to go back to when `#base` stops answering.
  #bases;
  // The one of `#bases` in use, or to go back to after a redirect.
  #at = 0;
  // Whether `#base` came from a redirect.
  #moved = false;
  // The host's peers, asked for once (null: not yet).
  #peers = null;
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
    this.#bases = [this.#base];
    this.#fetch = options.fetch || globalThis.fetch.bind(globalThis);
    this.#EventSource = options.EventSource || globalThis.EventSource;
    this.#storage = options.storage === undefined ? globalThis.localStorage || null : options.storage;
    // The base given, not where the room is served now: the session is
    // the room's, wherever it moves.
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
   * trailing slash or /rex/v0 (http://host:port/r/KXQF). For a room shared
   * by several hosts (docs/protocol.md §16), the base of the host that
   * serves it, once a request was redirected there; back to the one given
   * (or one of the host's peers) when that host stops answering.
   */
  get base() {
    return this.#base;
  }

  /**
   * The answer to a request of `path` sent under `base` came from
   * `response.url`: if a redirect (`response.redirected`) moved the room to
   * another host, its base
   * is remembered for every later request and stream. Returns the base the
   * answer is from; throws a RexError (code "protocol") for a redirect out
   * of the room.
   */
  #reached(base, path, response) {
    // Only what fetch says was redirected: a replacement fetch (tests, a
    // service worker) may answer from anywhere.
    const url = response && response.redirected && response.url;
    if (!url) return base;
    const moved = movedBase(base, path, url);
    if (moved === null) {
      throw new RexError(
        response.status,
        "protocol",
        `the server redirected ${base + path} to ${url}, which is not this room's path on another host; its answer was not used`,
      );
    }
    if (absolute(moved).origin === absolute(base + path).origin) return base;
    this.#base = moved;
    this.#moved = true;
    // The room is shared by a group of hosts: learn the others while the
    // one given answers.
    this.#learnPeers();
    return moved;
  }

  /**
   * `base` stopped answering (a network error or a 503). If requests still
   * go there, they go back to the base they were redirected from, or on
   * to the next of the base given and the host's peers.
   */
  async #failed(base) {
    if (this.#base !== base) return;
    await this.#learnPeers(true);
    if (this.#base !== base) return;
    if (this.#moved) {
      this.#moved = false;
    } else {
      this.#at = (this.#at + 1) % this.#bases.length;
    }
    this.#base = this.#bases[this.#at];
  }

  /**
   * Asks the host of the base given for its peers (`GET <host>/rex/v0/host`),
   * once; failures are ignored. With `wait`, waits for the answer (at most
   * PEERS_WAIT_MS).
   */
  #learnPeers(wait = false) {
    const given = this.#bases[0];
    const room = ROOM_PATH.exec(pathOf(given));
    const page = absolute(given);
    if (!room || !page) return Promise.resolve();
    if (this.#peers === null) {
      const root = page.origin + page.pathname.replace(/\/+$/, "").slice(0, -room[0].length);
      this.#peers = (async () => {
        try {
          const response = await this.#fetch(root + "/rex/v0/host", {});
          const info = response.ok ? await response.json() : {};
          for (const peer of Array.isArray(info.peers) ? info.peers : []) {
            if (typeof peer !== "string" || !/^https?:\/\//.test(peer)) continue;
            let url;
            try {
              url = absolute(normalizeBase(peer) + room[0]);
            } catch (_) {
              url = null;
            }
            if (!url) continue;
            const base = url.origin + pathOf(url.href);
            if (!this.#bases.includes(base)) this.#bases.push(base);
          }
        } catch (_) {
          // No peers known: the base given is where to go back to.
        }
      })();
    }
    if (!wait) return Promise.resolve();
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(resolve, PEERS_WAIT_MS);
    });
    return Promise.race([this.#peers, late]).finally(() => clearTimeout(timer));
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
    const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
    let lastError = null;
    let attempt = 0;
    let hops = 0;
    for (;;) {
      if (hops === 0) {
        if (attempt >= this.#retry.attempts) throw lastError;
        if (attempt > 0) await sleep(Math.max(backoff(this.#retry, attempt - 1), retryAfterMs(lastError)));
        attempt++;
      }
      const base = this.#base;
      let response;
      try {
        // fetch follows a room's redirect to its owner by itself (307
        // keeps the method and the body).
        response = await this.#fetch(base + path, init);
      } catch (e) {
        // The request may or may not have reached the server.
        lastError = new RexError(0, "network", "could not reach the server: " + e.message);
        hops = 0;
        await this.#failed(base);
        if (!retryLost) throw lastError;
        continue;
      }
      const reached = this.#reached(base, path, response);
      if (reached !== base && token) {
        // fetch drops the Authorization header when a redirect leaves the
        // origin (the Fetch standard), so this answer is not the
        // session's: send the request again to the room's base, directly.
        // A message keeps its id, so the app handles it once either way.
        if (response.body && response.body.cancel) response.body.cancel().catch(() => {});
        if (++hops > MAX_REDIRECTS) {
          throw new RexError(307, "moved", `the room was moved ${MAX_REDIRECTS} times in a row (last to ${reached}); try again later`);
        }
        continue;
      }
      hops = 0;
      // Refused before anything happened: too many requests (429), a body
      // too slow to arrive (408), or a server stopping (503). The same
      // request, id and all, can go again, after the wait the server asked
      // for (`retry_after`), within the retry budget; after a 503, through
      // the base given, which sends it on to whoever serves the room now.
      if (response.status === 503 || response.status === 429 || response.status === 408) {
        lastError = await readError(response);
        if (response.status === 503) await this.#failed(reached);
        continue;
      }
      if (!response.ok) throw await readError(response);
      return response.json();
    }
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

    // The path and query of the stream's request; it goes under the
    // client's base at each (re)open, wherever the room is served now.
    const path = () => {
      const query = new URLSearchParams({ start: String(cursor) });
      if (epoch) query.set("epoch", epoch);
      const creds = client.#creds;
      if (creds && creds.epoch === epoch) query.set("token", creds.token);
      return BASE + "/events?" + query.toString();
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
      const base = client.#base;
      const opened = new client.#EventSource(base + path());
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
          if (connection && connection.state === "connected") {
            lost();
            return;
          }
          failed();
          // EventSource keeps trying the same URL. If its host stopped
          // answering, go back to the base given (or a peer), which sends
          // the stream on to whoever serves the room now; if a request has
          // already found the room elsewhere, go there.
          client.#failed(base).then(() => {
            if (!closed && opened === source && client.#base !== base) open();
          });
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
      const base = client.#base;
      const asked = path();
      try {
        response = await client.#fetch(base + asked, { headers: { accept: "application/x-ndjson" } });
      } catch (_) {
        response = null;
        await client.#failed(base);
      }
      if (closed) return;
      if (response) {
        let reached;
        try {
          reached = client.#reached(base, asked, response);
        } catch (error) {
          // Redirected out of the room: not the room's answer, and not
          // one retrying will change.
          if (response.body && response.body.cancel) response.body.cancel().catch(() => {});
          closed = true;
          if (onError) onError(error);
          return;
        }
        if (response.status === 503) await client.#failed(reached);
      }
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
