// Rooms that move between hosts (docs/protocol.md §16), in the JavaScript
// client, without a server: the rule for the base a redirect leads to
// (`movedBase`), and where requests go after a redirect, a network error
// or a 503, with an injected `fetch` that plays the hosts (what a real
// redirect does is in ./client.test.mjs, against real servers).

import { test } from "node:test";
import assert from "node:assert/strict";

import { RexClient, RexError, movedBase } from "../../rex/src/server/js/client.js";
import { memoryStorage } from "./eventsource.mjs";

const ROOM = "http://10.0.0.5:7700/r/KXQF";

test("movedBase: the same path and query on another address is the room's new base", () => {
  for (const [base, path, url, moved] of [
    [ROOM, "/rex/v0/events?start=42", "http://10.0.0.7:7700/r/KXQF/rex/v0/events?start=42", "http://10.0.0.7:7700/r/KXQF"],
    [ROOM, "/rex/v0/messages", "http://[fd00::7]/r/KXQF/rex/v0/messages", "http://[fd00::7]/r/KXQF"],
    ["http://h:1", "/rex/v0/info", "http://g:2/rex/v0/info", "http://g:2"],
    // Not moved at all.
    [ROOM, "/rex/v0/info", ROOM + "/rex/v0/info", ROOM],
  ]) {
    assert.equal(movedBase(base, path, url), moved, url);
  }
  const path = "/rex/v0/events?start=42&epoch=e";
  for (const url of [
    "http://10.0.0.7:7700/r/MNPR/rex/v0/events?start=42&epoch=e",
    "http://10.0.0.7:7700/games/r/KXQF/rex/v0/events?start=42&epoch=e",
    "http://10.0.0.7:7700/rex/v0/events?start=42&epoch=e",
    "http://10.0.0.7:7700/r/KXQF/rex/v0/info",
    "http://10.0.0.7:7700/r/KXQF/rex/v0/events?start=0&epoch=e",
    "http://10.0.0.7:7700/r/KXQF/rex/v0/events?start=42",
    "https://10.0.0.7/r/KXQF/rex/v0/events?start=42&epoch=e",
    "http://me@10.0.0.7/r/KXQF/rex/v0/events?start=42&epoch=e",
    "http://10.0.0.7/r/KXQF/rex/v0/events?start=42&epoch=e#x",
    "not a url",
  ]) {
    assert.equal(movedBase(ROOM, path, url), null, url);
  }
});

const INFO = { app: "test", name: "Room", protocol: 0, epoch: "e1", head: 0, oldest: 0, sessions: 0, time: 0, messages: ["say"], events: ["said"] };

/**
 * A group of hosts for an injected fetch. `hosts` maps an origin to what
 * it does with a room request: "serve", "down" (a network error), "503",
 * or a function of the path (and the request) returning the URL it
 * redirects to (fetch follows it), or null to serve it. Every request is
 * recorded as "METHOD URL [auth]".
 */
function group(hosts, peers = []) {
  const log = [];
  const serve = (url, init) => {
    const path = url.pathname;
    const authorized = Boolean(init.headers && init.headers.authorization);
    if (path.endsWith("/rex/v0/info")) return [200, INFO];
    if (path.endsWith("/rex/v0/sessions")) return [201, { session: "s1", token: "t1", epoch: "e1", next: 0, app: "test" }];
    if (path.endsWith("/rex/v0/messages")) {
      // As a host does when fetch dropped the Authorization header.
      if (!authorized) return [401, { error: "unauthorized", reason: "no token" }];
      return [200, { first: 0, count: 1 }];
    }
    return [404, { error: "not_found", reason: "no such path" }];
  };
  const fetch = async (given, init = {}) => {
    let url = new URL(String(given));
    log.push(`${init.method || "GET"} ${url.href}${init.headers && init.headers.authorization ? " [auth]" : ""}`);
    if (url.pathname === "/rex/v0/host") {
      return respond(url, 200, { app: "test", name: "Host", protocol: 0, rooms: 1, max_rooms: 10, peers });
    }
    for (let hops = 0; ; hops++) {
      // fetch gives up after 20 redirects, with a network error.
      if (hops > 20) throw new TypeError("fetch failed: redirect count exceeded");
      let host = hosts[url.origin];
      if (typeof host === "function") host = host(url.pathname + url.search, init) || "serve";
      if (host === "down" || host === undefined) throw new TypeError("fetch failed");
      if (host === "503") return respond(url, 503, { error: "unavailable", reason: "shutting down" }, hops > 0);
      if (host === "serve") {
        const [status, body] = serve(url, init);
        return respond(url, status, body, hops > 0);
      }
      // A cross-origin redirect: fetch follows it, without Authorization.
      url = new URL(host);
      init = { ...init, headers: { ...init.headers } };
      delete init.headers.authorization;
      log.push(`  -> ${url.href}`);
    }
  };
  return { fetch, log };
}

/** A Response from `url`, as fetch gives it (`redirected` after a redirect). */
function respond(url, status, body, redirected = false) {
  const response = new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  Object.defineProperty(response, "url", { value: url.href });
  Object.defineProperty(response, "redirected", { value: redirected });
  return response;
}

const to = (origin) => (path) => origin + path;
const retry = { attempts: 6, initialMs: 1, maxMs: 2 };

test("a redirect is followed and its base kept; a token's request goes again to it directly", async () => {
  const owner = "http://10.0.0.7:7700";
  const hosts = { "http://10.0.0.5:7700": to(owner), [owner]: "serve" };
  const { fetch, log } = group(hosts);
  const storage = memoryStorage();
  const client = await RexClient.connect({ base: ROOM, name: "Ann", fetch, storage, retry });
  assert.equal(client.base, owner + "/r/KXQF");
  assert.ok(storage.getItem("rex:" + ROOM), "the session is saved under the base given");
  assert.deepEqual(await client.send("say", { text: "hi" }), { first: 0, count: 1 });
  assert.deepEqual(
    log.filter((l) => !l.includes("/rex/v0/host")),
    [
      `GET ${ROOM}/rex/v0/info`,
      `  -> ${owner}/r/KXQF/rex/v0/info`,
      `POST ${owner}/r/KXQF/rex/v0/sessions`,
      `POST ${owner}/r/KXQF/rex/v0/messages [auth]`,
    ],
  );

  // The room moves on from the owner: the redirected send reaches the new
  // host without its token (401), so it goes again there, with it.
  const third = "http://10.0.0.8:7700";
  hosts[owner] = to(third);
  hosts[third] = "serve";
  log.length = 0;
  assert.deepEqual(await client.send("say", { text: "again" }), { first: 0, count: 1 });
  assert.equal(client.base, third + "/r/KXQF");
  assert.deepEqual(log, [
    `POST ${owner}/r/KXQF/rex/v0/messages [auth]`,
    `  -> ${third}/r/KXQF/rex/v0/messages`,
    `POST ${third}/r/KXQF/rex/v0/messages [auth]`,
  ]);
});

test("a redirect out of the room is refused: code protocol, not retried", async () => {
  const { fetch, log } = group({ "http://10.0.0.5:7700": (path) => "http://evil:1" + path.replace("/r/KXQF", "/r/MNPR"), "http://evil:1": "serve" });
  const error = await RexClient.connect({ base: ROOM, name: "Ann", fetch, storage: null, retry }).then(
    () => assert.fail("connect resolved"),
    (e) => e,
  );
  assert.ok(error instanceof RexError);
  assert.equal(error.code, "protocol");
  assert.ok(error.reason.includes("http://evil:1/r/MNPR/rex/v0/info"), error.reason);
  assert.equal(log.filter((l) => l.startsWith("GET " + ROOM)).length, 1);
});

test("a token's request redirected again and again gives up with code moved", async () => {
  // Host i serves requests without a token, and sends those with one on
  // to host i+1.
  const hosts = {};
  for (let i = 0; i < 10; i++) {
    hosts[`http://10.0.1.${i}:7700`] = (path, init) => (init.headers.authorization ? `http://10.0.1.${i + 1}:7700${path}` : null);
  }
  const { fetch, log } = group(hosts);
  const client = await RexClient.connect({ base: "http://10.0.1.0:7700/r/KXQF", name: "Ann", fetch, storage: null, retry });
  const error = await client.send("say", {}).then(
    () => assert.fail("send resolved"),
    (e) => e,
  );
  assert.equal(error.code, "moved");
  // The first request, then 5 sent again to the next base.
  assert.equal(log.filter((l) => l.startsWith("POST") && l.endsWith("messages [auth]")).length, 6);
});

test("when the room's host stops answering: back to the base given, then to the host's peers", async () => {
  const given = "http://10.0.0.5:7700";
  const owner = "http://10.0.0.7:7700";
  const next = "http://10.0.0.8:7700";
  const peer = "http://10.0.0.9:7700";
  const hosts = { [given]: to(owner), [owner]: "serve", [next]: "serve", [peer]: "serve" };
  const { fetch, log } = group(hosts, [given, peer + "/", "ftp://x", 7]);
  const client = await RexClient.connect({ base: ROOM, name: "Ann", fetch, storage: null, retry });
  assert.equal(client.base, owner + "/r/KXQF");
  assert.ok(log.includes(`GET ${given}/rex/v0/host`), "the peers are asked for once the room moved");

  // The owner dies (a network error); the base given now sends to `next`.
  hosts[owner] = "down";
  hosts[given] = to(next);
  await client.send("say", {});
  assert.equal(client.base, next + "/r/KXQF");

  // `next` answers 503 (shutting down) and the base given is gone too:
  // the host's peer serves the room.
  hosts[next] = "503";
  hosts[given] = "down";
  await client.send("say", {});
  assert.equal(client.base, peer + "/r/KXQF");
  assert.equal(log.filter((l) => l.includes("/rex/v0/host")).length, 1, "asked once");
});

test("a base relative to the page moves and falls back like an absolute one", async () => {
  const page = "http://10.0.0.5:7700";
  const owner = "http://10.0.0.7:7700";
  globalThis.location = { href: page + "/r/KXQF/play", origin: page };
  try {
    const hosts = { [page]: to(owner), [owner]: "serve" };
    const { fetch: inner, log } = group(hosts, [owner]);
    // As a browser's fetch does: a relative URL is the page's.
    const fetch = (url, init) => inner(new URL(String(url), globalThis.location.href), init);
    const client = await RexClient.connect({ base: "/r/KXQF", name: "Ann", fetch, storage: null, retry });
    assert.equal(client.base, owner + "/r/KXQF");
    hosts[owner] = "down";
    hosts[page] = "serve";
    await client.send("say", {});
    assert.equal(client.base, "/r/KXQF", "back to the base given, as given");
    assert.ok(log.includes(`GET ${page}/rex/v0/host`), log.join("\n"));
  } finally {
    delete globalThis.location;
  }
});
