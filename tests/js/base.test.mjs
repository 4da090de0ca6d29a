// Where the JavaScript client sends its requests (no server needed): the
// base URL it derives from the URL it was served from, one given with a
// path (a room of a host, /r/KXQF), and a 410 without bounds (a room that
// ended) being final. Requests go to an injected `fetch` that records
// them; the module is loaded from http:// URLs by ./http-loader.mjs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";

import { RexClient, RexError } from "../../rex/src/server/js/client.js";
import { memoryStorage } from "./eventsource.mjs";

register("./http-loader.mjs", import.meta.url);

const INFO = {
  app: "test",
  name: "Room",
  protocol: 0,
  epoch: "e1",
  head: 0,
  oldest: 0,
  sessions: 0,
  time: 0,
  messages: ["say"],
  events: ["said"],
};

/** A fetch that answers from `routes` (path → [status, body]) and records each URL. */
function recordingFetch(routes) {
  const urls = [];
  const fetch = async (url, init = {}) => {
    urls.push(String(url));
    const path = new URL(String(url)).pathname;
    const [status, body] = routes(path, init) || [404, { error: "not_found", reason: "no such path" }];
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  };
  return { fetch, urls };
}

const ROOM_ROUTES = (path) => {
  if (path.endsWith("/rex/v0/info")) return [200, INFO];
  if (path.endsWith("/rex/v0/sessions")) return [201, { session: "s1", token: "t1", epoch: "e1", next: 0, app: "test" }];
  if (path.endsWith("/rex/v0/messages")) return [200, { first: 0, count: 1 }];
  if (path.endsWith("/rex/v0/snapshot")) return [200, { epoch: "e1", index: 0, time: 0, data: {} }];
  return null;
};

/** An EventSource that never connects, recording the URLs it was given. */
function recordingEventSource() {
  const urls = [];
  class Recording {
    constructor(url) {
      urls.push(String(url));
      this.readyState = 0;
    }
    addEventListener() {}
    close() {
      this.readyState = 2;
    }
  }
  return { EventSource: Recording, urls };
}

test("a base with a path: every request goes under it, and the session is kept per room", async () => {
  const { fetch, urls } = recordingFetch(ROOM_ROUTES);
  const es = recordingEventSource();
  const storage = memoryStorage();
  const room = "http://127.0.0.1:9/r/KXQF";
  for (const given of [room, room + "/", room + "/rex/v0", room + "/rex/v0/"]) {
    assert.equal(new RexClient({ base: given, fetch }).base, room, given);
  }
  const client = await RexClient.connect({ base: room + "/", name: "Ann", fetch, storage, EventSource: es.EventSource });
  assert.equal(client.base, room);
  await client.send("say", { text: "hi" });
  await client.snapshot();
  const subscription = client.events({ start: 3 });
  subscription.close();
  assert.deepEqual(urls, [room + "/rex/v0/info", room + "/rex/v0/sessions", room + "/rex/v0/messages", room + "/rex/v0/snapshot"]);
  assert.equal(es.urls.length, 1);
  assert.ok(es.urls[0].startsWith(room + "/rex/v0/events?start=3&epoch=e1&token=t1"), es.urls[0]);
  // The saved session belongs to this room, not to the whole host.
  assert.ok(storage.getItem("rex:" + room), "saved under the room's base");

  const other = await RexClient.connect({ base: "http://127.0.0.1:9/r/CDFG", name: "Ann", fetch, storage });
  assert.equal(other.restored, false, "another room of the same host is another session");

  assert.throws(() => new RexClient({ base: room + "?x=1", fetch }), TypeError);
  assert.throws(() => new RexClient({ base: room + "#play", fetch }), TypeError);
});

test("without options.base: the room that served the module, else the page's origin", async () => {
  const { fetch } = recordingFetch(ROOM_ROUTES);
  const served = await import("http://127.0.0.1:9/r/KXQF/rex/v0/client.js");
  assert.equal(new served.RexClient({ fetch }).base, "http://127.0.0.1:9/r/KXQF");
  const root = await import("http://127.0.0.1:9/rex/v0/client.js?v=2");
  assert.equal(new root.RexClient({ fetch }).base, "http://127.0.0.1:9");
  const proxied = await import("https://example.lan/games/quiz/rex/v0/client.js");
  assert.equal(new proxied.RexClient({ fetch }).base, "https://example.lan/games/quiz");
  // options.base still wins.
  assert.equal(new served.RexClient({ fetch, base: "http://10.0.0.2:7700" }).base, "http://10.0.0.2:7700");

  // Loaded from a file (bundled, copied): the page's origin, as before.
  globalThis.location = { origin: "http://page.test" };
  try {
    assert.equal(new RexClient({ fetch }).base, "http://page.test");
  } finally {
    delete globalThis.location;
  }
});

test("a 410 without oldest/head (the room ended) is final: onError with code gone, no resync", async () => {
  const room = "http://127.0.0.1:9/r/KXQF";
  let ended = false;
  const { fetch, urls } = recordingFetch((path, init) => {
    if (ended) return [410, { error: "gone", reason: "this room has ended" }];
    return ROOM_ROUTES(path, init);
  });
  // An EventSource whose every connection the server refuses (as a
  // browser's does on a non-200 answer: CLOSED, then `error`).
  class Refused {
    static made = 0;
    constructor() {
      Refused.made++;
      this.readyState = 0;
      queueMicrotask(() => {
        this.readyState = 2;
        if (this.onerror) this.onerror(new Event("error"));
      });
    }
    addEventListener() {}
    close() {
      this.readyState = 2;
    }
  }
  const client = await RexClient.connect({ base: room, anonymous: true, fetch, EventSource: Refused, retry: { initialMs: 1, maxMs: 5 } });
  ended = true;
  const resyncs = [];
  const error = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no onError within 5 s")), 5000);
    client.events({
      onResync: (r) => resyncs.push(r),
      onError: (e) => {
        clearTimeout(timer);
        resolve(e);
      },
    });
  });
  assert.ok(error instanceof RexError);
  assert.equal(error.code, "gone");
  assert.equal(error.status, 410);
  assert.equal(error.reason, "this room has ended");
  assert.deepEqual(resyncs, []);
  // Give a loop time to show itself: no new stream, no new request.
  const [streams, requests] = [Refused.made, urls.length];
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(Refused.made, streams, "no stream reopened after the end");
  assert.equal(urls.length, requests, "no request after the end");

  // A 410 whose body is not JSON (a proxy's page) is also code gone.
  const bare = async () => new Response("Gone", { status: 410 });
  const e = await RexClient.connect({ base: room, anonymous: true, fetch: bare }).then(
    () => assert.fail("connect resolved"),
    (e) => e,
  );
  assert.equal(e.code, "gone");
  assert.equal(e.reason, "this room has ended");
});
