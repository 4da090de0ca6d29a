// TypeScript declarations for the REx JavaScript client, served at
// /rex/v0/client.d.ts next to /rex/v0/client.js.

/** One event of the log, as the server sends it. */
export interface RexEvent<Data = unknown> {
  /** Its index in the log. */
  index: number;
  /** Milliseconds since the log's epoch began. */
  time: number;
  /** The event kind. */
  kind: string;
  /** The session whose message caused it, or null. */
  origin: string | null;
  /** For private events, the sessions it is for. */
  to?: string[];
  /** The payload; absent for kinds without one. */
  data?: Data;
}

/** Where the stream continues after a `410 gone`. */
export interface RexResync {
  epoch: string;
  oldest: number;
  head: number;
  reason: string;
}

/** `{first, count}`: where the app's events for a message are in the log. */
export interface RexReceipt {
  first: number;
  count: number;
}

/** `GET /rex/v0/info`. */
export interface RexInfo {
  app: string;
  name: string;
  protocol: number;
  epoch: string;
  head: number;
  oldest: number;
  sessions: number;
  /** The log's clock when /info answered (ms since the epoch began). */
  time: number;
  messages: string[];
  events: string[];
  /** Optional parts the server offers: "schema" when /rex/v0/schema describes the app. */
  offers?: string[];
}

/** `GET /rex/v0/snapshot`: the app's state, reflecting every event before `index`. */
export interface RexSnapshot<State = unknown> {
  epoch: string;
  /** Follow the log from here. */
  index: number;
  /** The log's clock when the snapshot was taken. */
  time: number;
  /** The app's state, in the app's JSON shape. */
  data: State;
}

/**
 * Whether a subscription's stream is connected, for a page that shows it.
 * The subscription reconnects by itself either way.
 */
export type RexConnection =
  /** A stream opened (reported each time, the first time too). */
  | { readonly state: "connected" }
  /** The stream is not open and the client is trying to open it again. */
  | {
      readonly state: "reconnecting";
      /**
       * When the stream was lost (`Date.now()` then), or when the first
       * attempt failed if it was never open.
       */
      readonly since: number;
      /** Attempts failed since then: 0 right after the loss, then 1, 2, …. */
      readonly attempts: number;
    };

export interface RexRetry {
  attempts: number;
  initialMs: number;
  maxMs: number;
}

export interface RexConnectOptions {
  /**
   * The base URL of the server or room, which may carry a path: a room of
   * a host (`"http://192.168.1.20:7700/r/KXQF"`) or a reverse proxy's
   * prefix. A trailing `/` or `/rex/v0` is dropped; a query or fragment is
   * refused (TypeError). Defaults to the URL this module was served from
   * minus `/rex/v0/client.js` (so a room's page talks to its room), or the
   * page's origin when the module was loaded some other way.
   */
  base?: string;
  /** The display name for a new session. */
  name?: string;
  /**
   * The room's PIN, for a server started with one; sent whenever the
   * client creates a session. Missing or wrong: a RexError with code
   * "forbidden" (403) whose reason says which.
   */
  pin?: string;
  /** No session: public events only, no sending. */
  anonymous?: boolean;
  /** Where credentials are kept; defaults to localStorage. null: nowhere. */
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null;
  /**
   * The storage key; defaults to "rex:" + base (one session per room), the
   * base given, even once the room is served by another host.
   */
  storageKey?: string;
  retry?: Partial<RexRetry>;
  /** Replacements for tests or other runtimes. */
  fetch?: typeof fetch;
  EventSource?: typeof EventSource;
}

export interface RexEventsOptions {
  start?: number;
  /** Start from the app's snapshot (and take a new one after a resync). */
  snapshot?: boolean;
  onSnapshot?: (snapshot: RexSnapshot) => void;
  onEvent?: (event: RexEvent) => void;
  onResync?: (resync: RexResync) => void;
  /**
   * An error retrying will not fix; the subscription has stopped. A room
   * that has ended (`410` without `oldest`/`head`) is code "gone".
   */
  onError?: (error: RexError) => void;
  onOpen?: () => void;
  /** Each change of the stream's connection; see `RexConnection`. */
  onConnection?: (connection: RexConnection) => void;
}

export interface RexSubscription {
  close(): void;
  readonly cursor: number;
  /** The last state `onConnection` heard; null before the first. */
  readonly connection: RexConnection | null;
}

export class RexError extends Error {
  readonly status: number;
  /**
   * "rejected", "unknown_kind", "invalid_data", "unauthorized", "gone"
   * (410: the events asked for were dropped, or the room has ended),
   * "forbidden" (403: a wrong or missing PIN), "request_timeout" (408),
   * "too_many_requests" (429; `body.retry_after` is the wait in seconds),
   * …, "network", "moved" (the room was redirected more than 5 times in
   * a row) or "protocol" (a redirect that leaves the room: its answer is
   * not used). Sends retry 408 and 429 by themselves, within the retry
   * budget; this is what is left when the budget is spent.
   */
  readonly code: string;
  readonly reason: string;
  readonly body: Record<string, unknown>;
}

/**
 * Where a redirect took a request (protocol §16): a request of `path`
 * (`"/rex/v0/events?start=3"`) sent under `base`
 * (`"http://h:1/r/KXQF"`) was answered from `url` (the response's URL).
 * The base `url` is under when it is the same path and query on another
 * address (`"http://h2:7/r/KXQF"`), or `base`'s own origin and path if it
 * was not moved; null for any other URL (a redirect out of the room).
 */
export function movedBase(base: string, path: string, url: string): string | null;

export class RexClient {
  static connect(options?: RexConnectOptions): Promise<RexClient>;
  constructor(options?: RexConnectOptions);
  /**
   * The base URL every request goes under, without a trailing `/` or
   * `/rex/v0`: `"http://192.168.1.20:7700"`, or a room's
   * `"http://192.168.1.20:7700/r/KXQF"`. For a room shared by several
   * hosts (protocol §16), the base of the host that serves it once a
   * request was redirected there (`307 moved`); back to the base given, or
   * one of the host's `peers`, when that host stops answering. The saved
   * session stays under the base given (`storageKey`).
   */
  readonly base: string;
  readonly session: string | null;
  readonly epoch: string | null;
  readonly info: RexInfo | null;
  readonly restored: boolean;
  readonly lastSeen: number | null;
  forget(): void;
  /** The server's log clock now, estimated (ms since the epoch began); null before connect. */
  serverTime(): number | null;
  snapshot<State = unknown>(): Promise<RexSnapshot<State>>;
  rejoin(name?: string): Promise<string>;
  send(kind: string, data?: unknown): Promise<RexReceipt>;
  events(options?: RexEventsOptions): RexSubscription;
}
