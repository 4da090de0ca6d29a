// A small EventSource for Node (which has none), on top of `fetch`
// streaming, following the WHATWG HTML "Server-sent events" section:
// readyState CONNECTING/OPEN/CLOSED, `Accept: text/event-stream`,
// `Last-Event-ID` on reconnects, the event-stream parser (id, event, data,
// retry, comments, CR/LF/CRLF line ends, blank-line dispatch), reconnection
// after a network error or the end of the stream, and failure without
// reconnection on a non-200 status or another content type.
//
// Not a spec feature: the reconnection delay defaults to 50 ms (browsers
// use seconds) and can be set per class with `eventSourceClass({ reconnectMs })`
// or per instance with `new EventSource(url, { reconnectMs })`. Every
// connection made is recorded in `instance.requests` (the Last-Event-ID
// sent, or null), so tests can check the resumption.

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/** Returns an EventSource class whose instances use these defaults. */
export function eventSourceClass({ reconnectMs = 50, fetch: fetchImpl } = {}) {
  return class extends EventSource {
    constructor(url, init = {}) {
      super(url, { reconnectMs, fetch: fetchImpl, ...init });
    }
  };
}

export class EventSource extends EventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSED = CLOSED;
  CONNECTING = CONNECTING;
  OPEN = OPEN;
  CLOSED = CLOSED;

  onopen = null;
  onmessage = null;
  onerror = null;
  /** Every request made: `{ lastEventId }` (null when the header was not sent). */
  requests = [];

  #url;
  #readyState = CONNECTING;
  #lastEventId = "";
  #reconnectMs;
  #fetch;
  #abort = null;
  #timer = null;

  constructor(url, init = {}) {
    super();
    this.#url = new URL(String(url)).href;
    this.#reconnectMs = init.reconnectMs ?? 50;
    this.#fetch = init.fetch || globalThis.fetch.bind(globalThis);
    this.withCredentials = Boolean(init.withCredentials);
    // The fetch starts after the constructor returns, so handlers set
    // right after `new` hear everything (as in a browser).
    queueMicrotask(() => this.#connect());
  }

  get url() {
    return this.#url;
  }

  get readyState() {
    return this.#readyState;
  }

  close() {
    this.#readyState = CLOSED;
    clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#abort) this.#abort.abort();
    this.#abort = null;
  }

  #fire(type, init) {
    if (this.#readyState === CLOSED && type !== "error") return;
    const event = init ? new MessageEvent(type, init) : new Event(type);
    const handler = this["on" + type];
    // As in a browser, a throwing handler is reported (here: as an
    // uncaught exception, which fails the test) and the stream goes on.
    if (typeof handler === "function") {
      try {
        handler.call(this, event);
      } catch (e) {
        setTimeout(() => {
          throw e;
        });
      }
    }
    this.dispatchEvent(event);
  }

  async #connect() {
    if (this.#readyState === CLOSED) return;
    const abort = new AbortController();
    this.#abort = abort;
    const headers = { accept: "text/event-stream", "cache-control": "no-cache" };
    if (this.#lastEventId !== "") headers["last-event-id"] = this.#lastEventId;
    this.requests.push({ lastEventId: this.#lastEventId === "" ? null : this.#lastEventId });
    let response;
    try {
      response = await this.#fetch(this.#url, { headers, signal: abort.signal, cache: "no-store" });
    } catch (_) {
      // A network error: reestablish the connection.
      this.#reestablish(abort);
      return;
    }
    if (abort.signal.aborted || this.#readyState === CLOSED) {
      response.body?.cancel().catch(() => {});
      return;
    }
    const type = (response.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
    if (response.status !== 200 || type !== "text/event-stream") {
      // Fail the connection: no reconnection.
      response.body?.cancel().catch(() => {});
      this.#readyState = CLOSED;
      this.#abort = null;
      this.#fire("error");
      return;
    }
    this.#readyState = OPEN;
    this.#fire("open");
    try {
      await this.#read(response.body, abort);
    } catch (_) {
      // A network error mid-stream (or our own abort).
    }
    this.#reestablish(abort);
  }

  #reestablish(abort) {
    if (this.#readyState === CLOSED || this.#abort !== abort) return;
    this.#abort = null;
    this.#readyState = CONNECTING;
    this.#fire("error");
    if (this.#readyState !== CONNECTING) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#readyState === CONNECTING) this.#connect();
    }, this.#reconnectMs);
  }

  async #read(body, abort) {
    const reader = body.getReader();
    const decoder = new TextDecoder("utf-8");
    // Per stream: the parser's buffers.
    let pending = "";
    let first = true;
    let data = "";
    let eventType = "";
    let idBuffer = this.#lastEventId;
    // A CR ended the last chunk: an LF starting the next one belongs to it.
    let skipLf = false;

    const line = (text) => {
      if (text === "") {
        // Dispatch.
        this.#lastEventId = idBuffer;
        if (data === "") {
          eventType = "";
          return;
        }
        if (data.endsWith("\n")) data = data.slice(0, -1);
        const event = { data, lastEventId: this.#lastEventId, origin: new URL(this.#url).origin };
        const type = eventType || "message";
        data = "";
        eventType = "";
        if (this.#readyState !== CLOSED) this.#fire(type, event);
        return;
      }
      if (text.startsWith(":")) return;
      const colon = text.indexOf(":");
      let field = text;
      let value = "";
      if (colon >= 0) {
        field = text.slice(0, colon);
        value = text.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
      }
      switch (field) {
        case "event":
          eventType = value;
          break;
        case "data":
          data += value + "\n";
          break;
        case "id":
          if (!value.includes("\0")) idBuffer = value;
          break;
        case "retry":
          if (/^[0-9]+$/.test(value)) this.#reconnectMs = Number(value);
          break;
        default:
          break;
      }
    };

    for (;;) {
      const { done, value } = await reader.read();
      if (done || abort.signal.aborted || this.#readyState === CLOSED) {
        // Whatever is pending (a partial line, an undispatched event) is
        // discarded.
        return;
      }
      let text = decoder.decode(value, { stream: true });
      if (first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      if (skipLf && text.startsWith("\n")) text = text.slice(1);
      skipLf = false;
      pending += text;
      let start = 0;
      for (let i = 0; i < pending.length; i++) {
        const c = pending.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        line(pending.slice(start, i));
        if (this.#readyState === CLOSED) return;
        if (c === 13) {
          if (i + 1 < pending.length) {
            if (pending.charCodeAt(i + 1) === 10) i++;
          } else {
            skipLf = true;
          }
        }
        start = i + 1;
      }
      pending = pending.slice(start);
    }
  }
}

/** An in-memory `localStorage` stand-in. */
export function memoryStorage() {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => void items.set(key, String(value)),
    removeItem: (key) => void items.delete(key),
    get length() {
      return items.size;
    },
  };
}
