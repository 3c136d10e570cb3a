// The team event stream (GET /teams/{team_id}/events) as an async iterator.
//
// Server-Sent Events read over fetch's streaming response body, not
// EventSource: EventSource cannot send an Authorization header. Works in
// browsers and in Node 18+.

import type { components } from "./schema.gen.js";
import { ConveyorProblem } from "./problem.js";

/**
 * One event of a team's stream: `job` is set for `job.updated`, `file` for `file.created` and `file.deleted`,
 * `member` for `member.*`, `api_key` for `api_key.*` (never the key's secret).
 */
export type ConveyorEvent = components["schemas"]["Event"];
/**
 * `job.updated`, `file.created`, `file.deleted`, `member.added`, `member.role_changed`, `member.removed`,
 * `api_key.created`, `api_key.revoked`, or `reset` (events were missed: re-read the resources).
 */
export type EventType = components["schemas"]["EventType"];

export interface EventsOptions {
  /** Resume after this event id (a `ConveyorEvent.id`, or `lastEventId` of an earlier stream). */
  lastEventId?: string;
  /** Ends the stream: the iteration then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Drop and reopen a connection on which nothing (not even the server's
   * heartbeat, every 15 s) arrived for this long. Default 45 000; 0 turns it off.
   */
  idleTimeoutMs?: number;
  /** Called before each reconnection with why the connection ended and the wait before the next attempt. */
  onReconnect?: (reason: unknown, waitMs: number) => void;
}

/**
 * A team's live event stream: iterate it with `for await`. It reconnects by
 * itself when the connection drops, the server shuts down or goes quiet —
 * waiting what the server asked (`retry:`), doubling with each failed
 * attempt up to 30 s — and resumes with `Last-Event-ID`, so no event is
 * missed. When the server no longer has the missed events, a `reset` event
 * comes instead: re-read the resources, then carry on.
 *
 * The iteration ends quietly after `close()` or a `break`; it rejects with
 * a `ConveyorProblem` when the server refuses the stream (401, 404), with
 * the signal's reason when `signal` aborts, and with an `EventStreamError`
 * when the server sends something that is not a valid event stream.
 */
export interface EventStream extends AsyncIterableIterator<ConveyorEvent> {
  /**
   * Resolves once the server has accepted the stream: anything that happens
   * in the team from then on will be delivered. Rejects like the iteration
   * would when the first connection fails.
   */
  readonly opened: Promise<void>;
  /** The id of the last event delivered (or the one the stream was opened with). */
  readonly lastEventId: string | undefined;
  /** Ends the stream; a pending `next()` resolves as done. */
  close(): void;
}

/** The server sent something that is not a valid event stream; reconnecting would not help. */
export class EventStreamError extends Error {
  override readonly name = "EventStreamError";
}

/** Opens one connection: the GET, with Last-Event-ID when given. Rejects with ConveyorProblem on a non-2xx. */
export type OpenEvents = (lastEventId: string | undefined, signal: AbortSignal) => Promise<Response>;

const DEFAULT_RETRY_MS = 2_000;
const MAX_WAIT_MS = 30_000;
const DEFAULT_IDLE_MS = 45_000;
const MAX_EVENT_CHARS = 16 << 20;

class IdleError extends Error {
  override readonly name = "IdleError";
}

class Closed extends Error {}

export class ConveyorEventStream implements EventStream {
  readonly opened: Promise<void>;
  private readonly ctl = new AbortController();
  private readonly queue: ConveyorEvent[] = [];
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private conn: AbortController | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private decoder = new TextDecoder();
  private partial = "";
  private skipLF = false;
  private data: string[] | undefined;
  private dataChars = 0;
  private idBuf: string | undefined;
  private last: string | undefined;
  private retryMs = DEFAULT_RETRY_MS;
  private retryAfterMs = 0;
  private failures = 0;
  private reason: unknown;
  private fatal: unknown;
  private done = false;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly open: OpenEvents,
    private readonly options: EventsOptions = {},
  ) {
    this.last = options.lastEventId;
    const { signal } = options;
    if (signal) {
      if (signal.aborted) this.ctl.abort(signal.reason);
      else signal.addEventListener("abort", () => this.ctl.abort(signal.reason), { once: true });
    }
    // Ending the stream cancels the body's reader itself: an aborted signal
    // does not always reach a response body in Node's fetch (its request,
    // and the signal it follows, may be collected once the headers are in).
    this.ctl.signal.addEventListener("abort", () => this.disconnect(), { once: true });
    this.opened = this.pending = this.connect();
    this.opened.catch(() => {}); // read through next() or opened; never unhandled
  }

  get lastEventId(): string | undefined {
    return this.last;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  close(): void {
    if (!this.ctl.signal.aborted) this.ctl.abort(new Closed());
    this.disconnect();
  }

  async return(): Promise<IteratorResult<ConveyorEvent>> {
    this.close();
    this.done = true;
    return { done: true, value: undefined };
  }

  async next(): Promise<IteratorResult<ConveyorEvent>> {
    try {
      return await this.step();
    } catch (err) {
      this.done = true;
      this.close();
      if (err instanceof Closed) return { done: true, value: undefined };
      throw err;
    }
  }

  private async step(): Promise<IteratorResult<ConveyorEvent>> {
    for (;;) {
      if (this.done) return { done: true, value: undefined };
      const ev = this.queue.shift();
      if (ev) return { done: false, value: ev };
      if (this.fatal !== undefined) throw this.fatal;
      this.throwIfAborted();
      if (this.pending) {
        const p = this.pending;
        this.pending = undefined;
        await p;
        continue;
      }
      if (!this.reader) {
        await this.reconnect();
        continue;
      }
      const conn = this.conn;
      let chunk: ReadableStreamReadResult<Uint8Array> | undefined;
      let failure: unknown;
      try {
        chunk = await this.reader.read();
      } catch (err) {
        failure = err;
      }
      if (!chunk || chunk.done) {
        // The server ended the stream, the connection broke, or we cut it
        // (idle, close, abort: see disconnect).
        const cause = conn?.signal.reason;
        this.disconnect();
        this.throwIfAborted();
        this.reason = cause instanceof IdleError ? cause : chunk ? new Error("the server ended the event stream") : failure;
        continue;
      }
      this.armIdle();
      try {
        this.feed(this.decoder.decode(chunk.value, { stream: true }));
      } catch (err) {
        this.fatal = err;
        this.disconnect();
      }
    }
  }

  private throwIfAborted(): void {
    if (this.ctl.signal.aborted) throw this.ctl.signal.reason;
  }

  /** Opens a connection, resuming after the last id. */
  private async connect(): Promise<void> {
    const conn = new AbortController();
    const onAbort = () => conn.abort(this.ctl.signal.reason);
    if (this.ctl.signal.aborted) onAbort();
    else this.ctl.signal.addEventListener("abort", onAbort, { once: true });
    let response: Response;
    try {
      response = await this.open(this.last, conn.signal);
    } catch (err) {
      this.ctl.signal.removeEventListener("abort", onAbort);
      if (err instanceof ConveyorProblem) {
        const after = Number(err.response.headers.get("Retry-After") ?? NaN);
        this.retryAfterMs = Number.isFinite(after) && after >= 0 ? Math.min(after * 1000, 60_000) : 0;
      }
      throw err;
    }
    const type = response.headers.get("Content-Type") ?? "";
    if (!/^text\/event-stream\s*(;|$)/i.test(type) || !response.body) {
      conn.abort(new Closed());
      this.ctl.signal.removeEventListener("abort", onAbort);
      throw new EventStreamError(`the events answer is ${JSON.stringify(type)}, not text/event-stream`);
    }
    this.conn = conn;
    conn.signal.addEventListener("abort", () => this.ctl.signal.removeEventListener("abort", onAbort), { once: true });
    this.reader = response.body.getReader();
    this.decoder = new TextDecoder();
    this.partial = "";
    this.skipLF = false;
    this.data = undefined;
    this.dataChars = 0;
    this.idBuf = this.last;
    this.failures = 0;
    this.armIdle();
  }

  private armIdle(): void {
    const ms = this.options.idleTimeoutMs ?? DEFAULT_IDLE_MS;
    if (ms <= 0 || !this.conn) return;
    clearTimeout(this.idleTimer);
    const conn = this.conn;
    const reader = this.reader;
    this.idleTimer = setTimeout(() => {
      conn.abort(new IdleError(`nothing received for ${ms} ms`));
      reader?.cancel().catch(() => {});
    }, ms);
  }

  private disconnect(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.conn && !this.conn.signal.aborted) this.conn.abort(new Closed());
    this.conn = undefined;
    this.reader?.cancel().catch(() => {});
    this.reader = undefined;
  }

  /** Waits and connects until it succeeds, the stream ends, or the server refuses for good. */
  private async reconnect(): Promise<void> {
    for (;;) {
      const d = Math.min(this.retryMs * 2 ** Math.min(this.failures, 16), MAX_WAIT_MS);
      const wait = Math.max(d / 2 + Math.random() * (d / 2), this.retryAfterMs);
      this.retryAfterMs = 0;
      this.options.onReconnect?.(this.reason, wait);
      await abortableSleep(wait, this.ctl.signal);
      try {
        await this.connect();
        return;
      } catch (err) {
        this.throwIfAborted();
        if (!transient(err)) throw err;
        this.failures++;
        this.reason = err;
      }
    }
  }

  /** Splits decoded text into lines ending in CRLF, LF or CR. */
  private feed(text: string): void {
    let i = 0;
    if (this.skipLF && text.length > 0) {
      this.skipLF = false;
      if (text[0] === "\n") i = 1;
    }
    let start = i;
    for (; i < text.length; i++) {
      const ch = text[i];
      if (ch !== "\n" && ch !== "\r") continue;
      this.line(this.partial + text.slice(start, i));
      this.partial = "";
      if (ch === "\r") {
        if (i + 1 < text.length) {
          if (text[i + 1] === "\n") i++;
        } else {
          this.skipLF = true;
        }
      }
      start = i + 1;
    }
    this.partial += text.slice(start);
    if (this.partial.length > MAX_EVENT_CHARS) throw new EventStreamError(`a line over ${MAX_EVENT_CHARS} characters`);
  }

  /** One line, per the Server-Sent Events rules. */
  private line(line: string): void {
    if (line === "") {
      this.last = this.idBuf;
      const data = this.data;
      this.data = undefined;
      this.dataChars = 0;
      if (data === undefined) return;
      let ev: ConveyorEvent;
      try {
        ev = JSON.parse(data.join("\n")) as ConveyorEvent;
      } catch (err) {
        throw new EventStreamError(`event ${JSON.stringify(this.last)}: ${String(err)}`);
      }
      if (typeof ev !== "object" || ev === null || typeof ev.type !== "string") {
        throw new EventStreamError(`event ${JSON.stringify(this.last)} is not an Event`);
      }
      if (typeof ev.id === "string" && ev.id !== "") this.last = this.idBuf = ev.id;
      this.queue.push(ev);
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.dataChars += value.length;
        if (this.dataChars > MAX_EVENT_CHARS) throw new EventStreamError(`an event over ${MAX_EVENT_CHARS} characters`);
        (this.data ??= []).push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.idBuf = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Math.max(Number(value), 1);
        break;
    }
  }
}

/** Reports whether a failed connection attempt is worth repeating: a network failure, 408, 429 or a 5xx. */
function transient(err: unknown): boolean {
  if (err instanceof ConveyorProblem) return err.status === 408 || err.status === 429 || err.status >= 500;
  return !(err instanceof EventStreamError);
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
