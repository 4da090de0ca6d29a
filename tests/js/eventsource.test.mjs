// The EventSource polyfill itself, against a scripted SSE server on
// 127.0.0.1 (no REx involved): if it were wrong, client.test.mjs would
// prove nothing about browsers.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";

import { EventSource, eventSourceClass } from "./eventsource.mjs";

/** A server answering each request with the next script entry. */
async function scripted(script) {
  const requests = [];
  const server = createServer((req, res) => {
    requests.push({ accept: req.headers.accept, lastEventId: req.headers["last-event-id"] ?? null });
    const entry = script[Math.min(requests.length - 1, script.length - 1)];
    res.writeHead(entry.status ?? 200, { "content-type": entry.type ?? "text/event-stream" });
    for (const chunk of entry.chunks ?? []) res.write(chunk);
    if (entry.hold) return; // left open
    // Destroyed a little later, so the bytes written are flushed first.
    if (entry.destroy) setTimeout(() => res.socket.destroy(), 20);
    else res.end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${server.address().port}/s`;
  return {
    url,
    requests,
    close: () => {
      server.closeAllConnections();
      if (server.listening) server.close();
    },
  };
}

function waitUntil(predicate, ms, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > ms) return reject(new Error("timed out waiting for " + what));
      setTimeout(poll, 5);
    };
    poll();
  });
}

test("parses fields, comments, line ends and multi-line data; dispatches by type", { timeout: 30000 }, async (t) => {
  const srv = await scripted([
    {
      chunks: [
        "\uFEFF: a comment\n",
        "id: 1\nevent: tick\ndata: a\n\n",
        "data: line one\r\ndata: line two\r",
        "\ndata:no space\n\n",
        "data\n\n",
        "event: tick\nid: 2\ndata: {\"x\"",
        ":1}\n\nignored: field\nid\n",
        "data: after empty id\n\n",
        "data: never dispatched (no blank line)\n",
      ],
      hold: true,
    },
  ]);
  t.after(srv.close);
  const es = new EventSource(srv.url);
  t.after(() => es.close());
  const got = [];
  let opened = 0;
  es.onopen = () => opened++;
  es.onmessage = (e) => got.push(["message", e.data, e.lastEventId]);
  es.addEventListener("tick", (e) => got.push(["tick", e.data, e.lastEventId]));
  assert.equal(es.readyState, EventSource.CONNECTING);
  await waitUntil(() => got.length === 5, 20000, "five events");
  assert.equal(es.readyState, EventSource.OPEN);
  assert.equal(opened, 1);
  assert.deepEqual(got, [
    ["tick", "a", "1"],
    ["message", "line one\nline two\nno space", "1"],
    ["message", "", "1"],
    ["tick", '{"x":1}', "2"],
    ["message", "after empty id", ""],
  ]);
  assert.equal(srv.requests[0].accept, "text/event-stream");
  assert.equal(srv.requests[0].lastEventId, null);
  es.close();
  assert.equal(es.readyState, EventSource.CLOSED);
  srv.close();
});

test("reconnects after the stream ends, with the last dispatched id only", { timeout: 30000 }, async (t) => {
  const srv = await scripted([
    // The event with id 8 is cut before its blank line: not dispatched,
    // so the reconnect says 7.
    { chunks: ["id: 7\ndata: seven\n\nid: 8\ndata: eig"], destroy: true },
    { chunks: ["id: 8\ndata: eight\n\n"] },
    { chunks: ["retry: 20\n\n"], hold: true },
  ]);
  t.after(srv.close);
  const Es = eventSourceClass({ reconnectMs: 10 });
  const es = new Es(srv.url);
  t.after(() => es.close());
  const got = [];
  const states = [];
  es.onmessage = (e) => got.push(e.data + "@" + e.lastEventId);
  es.onerror = () => states.push(es.readyState);
  await waitUntil(() => srv.requests.length === 3, 20000, "two reconnects");
  assert.deepEqual(got, ["seven@7", "eight@8"]);
  assert.deepEqual(
    srv.requests.map((r) => r.lastEventId),
    [null, "7", "8"],
  );
  assert.deepEqual(states, [EventSource.CONNECTING, EventSource.CONNECTING]);
  assert.deepEqual(
    es.requests.map((r) => r.lastEventId),
    [null, "7", "8"],
  );
  es.close();
  srv.close();
});

test("a non-200 status or another content type fails without reconnecting", { timeout: 30000 }, async (t) => {
  for (const entry of [{ status: 410, type: "application/json", chunks: ["{}"] }, { type: "application/x-ndjson" }]) {
    const srv = await scripted([entry]);
    t.after(srv.close);
    const es = new EventSource(srv.url, { reconnectMs: 5 });
    t.after(() => es.close());
    let errors = 0;
    let opened = 0;
    es.onopen = () => opened++;
    es.onerror = () => errors++;
    await waitUntil(() => errors === 1, 20000, "the error");
    assert.equal(es.readyState, EventSource.CLOSED);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(srv.requests.length, 1, "no reconnection");
    assert.equal(opened, 0);
    srv.close();
  }
});

test("close() stops a pending reconnection", { timeout: 30000 }, async (t) => {
  const srv = await scripted([{ chunks: ["data: x\n\n"] }]);
  t.after(srv.close);
  const es = new EventSource(srv.url, { reconnectMs: 30 });
  es.onerror = () => es.close();
  await waitUntil(() => es.readyState === EventSource.CLOSED, 20000, "close");
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(srv.requests.length, 1);
  srv.close();
});
