// @conveyor/client: a thin, typed client for the Conveyor API v1.
//
// Every request and response type comes from ./schema.gen.ts, which
// openapi-typescript generates from openapi/v1/openapi.yaml (`npm run generate`).
// The HTTP calls are made by openapi-fetch; this file only adds authentication,
// retries, Idempotency-Keys, typed errors (ConveyorProblem), uploads with
// progress (./upload.ts), job polling and control, downloads, and the event
// stream (./events.ts).

import createClient from "openapi-fetch";
import type { Client, Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.gen.js";
import { ConveyorEventStream, abortableSleep as sleep, type EventStream, type EventsOptions } from "./events.js";
import { ConveyorProblem } from "./problem.js";
import { hasXHR, multipartFraming, sendParts, streamingFetch, xhrFetch, type DirectPart, type UploadProgress } from "./upload.js";

export type { components, operations, paths };
export { ConveyorProblem, type FieldError, type Problem } from "./problem.js";
export { EventStreamError, type ConveyorEvent, type EventStream, type EventType, type EventsOptions } from "./events.js";
export { StorageError, type UploadProgress } from "./upload.js";

type Schemas = components["schemas"];
export type Me = Schemas["Me"];
/** A change to the caller's own settings (PATCH /me). */
export type MeUpdate = Schemas["MeUpdate"];
export type Team = Schemas["Team"];
/** A user as platform admins see them: teams, last seen, whether disabled. */
export type UserAccount = Schemas["UserAccount"];
export type File = Schemas["File"];
export type Job = Schemas["Job"];
export type JobStatus = Schemas["JobStatus"];
export type JobCreate = Schemas["JobCreate"];
export type Processor = Schemas["Processor"];
/** A file a job produced, by name. */
export type JobOutput = Schemas["JobOutput"];

/** The typed openapi-fetch client for every path of the API. */
export type ConveyorApi = Client<paths>;

/** The path prefix of API v1 (the spec's `servers[0].url`). */
export const API_BASE_PATH = "/api/v1";

/** The job states after which a job never changes again. */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "cancelled"];

/** Thrown by waitForJob when the job is not final within timeoutMs. */
export class JobWaitTimeoutError extends Error {
  override readonly name = "JobWaitTimeoutError";
  constructor(readonly lastSeen: Job) {
    super(`job ${lastSeen.id} is still ${lastSeen.status} after the timeout`);
  }
}

type Auth =
  | { /** A fixed bearer token (an OIDC access token or an API key). */ token: string; getToken?: never }
  | { token?: never; /** Called before every request; return a fresh bearer token. */ getToken: () => string | Promise<string> }
  | { token?: never; getToken?: never };

export type ConveyorClientOptions = Auth & {
  /**
   * The server, e.g. `https://conveyor.example.com`. `/api/v1` is appended
   * unless the URL already ends with it.
   */
  baseUrl: string;
  /** A fetch implementation (defaults to globalThis.fetch). */
  fetch?: (input: Request) => Promise<Response>;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** How requests are retried (default: 3 retries, 200 ms to 10 s); `{ maxRetries: 0 }` turns retries off. */
  retry?: RetryPolicy;
};

/**
 * Retries: 429 and 503 answers are retried after their Retry-After (capped at
 * 60 s), network failures with exponential backoff and jitter — for GET and
 * HEAD, and for POSTs, which always carry an Idempotency-Key (kept across the
 * retries, so the server replays instead of creating twice).
 */
export interface RetryPolicy {
  maxRetries?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
}

function backoffMs(attempt: number, p: Required<RetryPolicy>): number {
  const cap = Math.min(p.maxDelayMs, p.minDelayMs * 2 ** Math.min(attempt, 16));
  return p.minDelayMs / 2 + Math.random() * cap;
}

/** Called before a request is tried again: how long the client waits, and why (the 429/503 response, or the network error). */
export type OnRetry = (waitMs: number, reason: Response | unknown) => void;

/** Wraps fetch with the retry policy. A request is cloned before each try so its body can be sent again. */
function retryingFetch(inner: (input: Request) => Promise<Response>, policy: RetryPolicy = {}, onRetry?: OnRetry): (input: Request) => Promise<Response> {
  const p: Required<RetryPolicy> = { maxRetries: 3, minDelayMs: 200, maxDelayMs: 10_000, ...policy };
  return async (request: Request) => {
    const safe = request.method === "GET" || request.method === "HEAD" || request.headers.has("Idempotency-Key");
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= p.maxRetries;
      const sent = last ? request : request.clone();
      let response: Response;
      try {
        response = await inner(sent);
      } catch (err) {
        if (last || !safe || request.signal.aborted) throw err;
        const wait = backoffMs(attempt, p);
        onRetry?.(wait, err);
        await sleep(wait, request.signal);
        continue;
      }
      if (last || (response.status !== 429 && response.status !== 503)) return response;
      const after = Number(response.headers.get("Retry-After"));
      await response.body?.cancel();
      const wait = Number.isFinite(after) && after >= 0 ? Math.min(after * 1000, 60_000) : backoffMs(attempt, p);
      onRetry?.(wait, response);
      await sleep(wait, request.signal);
    }
  };
}

export interface WaitForJobOptions {
  /** Give up after this long (default 60 000 ms). */
  timeoutMs?: number;
  /** Time between two polls (default 500 ms). */
  intervalMs?: number;
  /** Stops waiting early. */
  signal?: AbortSignal;
}

export interface UploadOptions {
  /** The part's Content-Type. The server detects the media type itself; this is only a hint. */
  contentType?: string;
  signal?: AbortSignal;
  /**
   * Called as the bytes go: with XMLHttpRequest's upload progress in a
   * browser, and elsewhere (Node) by streaming the body through fetch and
   * counting what it takes. A retry starts the count again.
   */
  onProgress?: UploadProgress;
  /**
   * Called before the upload is tried again after a 429 or 503 (with the
   * wait its Retry-After asked for) or a network failure.
   */
  onRetry?: OnRetry;
}

export interface DirectUploadOptions extends UploadOptions {
  /** The file's hex SHA-256, when known: completing fails unless the stored bytes hash to it. */
  sha256?: string;
  /** Parts sent to storage at once (default 4). */
  concurrency?: number;
  /** Tries per part after the first, on network failures, 408, 429 and 5xx from storage (default 3). */
  partRetries?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface OpenFileOptions extends CallOptions {
  /**
   * `redirect` (default): storage's presigned URL, followed without our
   * credentials; `stream`: the bytes through the API itself, on the API's
   * origin (for a browser whose Content-Security-Policy allows only it).
   */
  delivery?: "redirect" | "stream";
}

/** Options of openOutput: the same choice of delivery as openFile's. */
export type OpenOutputOptions = OpenFileOptions;

export interface ConveyorClient {
  /** The typed openapi-fetch client. Any non-2xx answer rejects with a ConveyorProblem. */
  readonly api: ConveyorApi;
  /** POST /teams/{team_id}/files as multipart/form-data with the bytes in part `file`; `onProgress` follows the upload. */
  uploadFile(teamId: string, data: Blob | Uint8Array, name: string, options?: UploadOptions): Promise<File>;
  /**
   * Uploads straight to storage, for large files: POST /teams/{team_id}/uploads,
   * then the bytes with PUT to the presigned URL (one, or one per part,
   * `concurrency` parts at a time, each retried on a transient failure),
   * then POST .../complete with the parts' ETags. `onProgress` counts the
   * file's bytes stored so far. In a browser the parts go through
   * XMLHttpRequest: storage must allow the page's origin (CORS) and expose
   * the `ETag` header. Aborting `signal` stops every part; the unfinished
   * upload expires on the server.
   */
  uploadDirect(teamId: string, data: Blob | Uint8Array, name: string, options?: DirectUploadOptions): Promise<File>;
  /** Polls GET /teams/{team_id}/jobs/{job_id} until the job is succeeded, failed or cancelled. */
  waitForJob(teamId: string, jobId: string, options?: WaitForJobOptions): Promise<Job>;
  /**
   * Follows a job on the team's event stream, without polling: yields the job
   * as it is now, then each change of its status or progress, and ends after
   * a final state.
   */
  watchJob(teamId: string, jobId: string, options?: CallOptions): AsyncIterable<Job>;
  /**
   * Cancels a queued or running job; resolves to the job, now cancelled. A job
   * that already succeeded or failed rejects with a 409 ConveyorProblem.
   */
  cancelJob(teamId: string, jobId: string, options?: CallOptions): Promise<Job>;
  /**
   * Queues a failed or cancelled job again (202); resolves to the job, queued.
   * Any other job rejects with a 409 ConveyorProblem.
   */
  retryJob(teamId: string, jobId: string, options?: CallOptions): Promise<Job>;
  /** The files a job produced, by name (none until it has succeeded). */
  jobOutputs(teamId: string, jobId: string, options?: CallOptions): Promise<JobOutput[]>;
  /**
   * The short-lived presigned URL of a job output (for a link, say). Reads the
   * API's redirect, which browsers hide from scripts: in a browser, use
   * openOutput.
   */
  outputUrl(teamId: string, jobId: string, name: string, options?: CallOptions): Promise<string>;
  /**
   * Downloads a job output: resolves to storage's response, whose body is the
   * output. The presigned URL is fetched without the client's credentials.
   * `delivery: "stream"` reads it through the API instead, on its origin.
   */
  openOutput(teamId: string, jobId: string, name: string, options?: OpenOutputOptions): Promise<Response>;
  /** Downloads a file's content, like openOutput; `delivery: "stream"` reads it through the API instead of storage. */
  openFile(teamId: string, fileId: string, options?: OpenFileOptions): Promise<Response>;
  /**
   * The team's live event stream, opening now: `await stream.opened` to know
   * that what happens from then on will be delivered, then `for await` over it.
   * It reconnects by itself, resuming with Last-Event-ID (see EventStream).
   */
  events(teamId: string, options?: EventsOptions): EventStream;
  /** Every team the caller sees, across pages. */
  teams(options?: PageOptions): AsyncIterable<Team>;
  /** A team's files, newest first, across pages; `filter` narrows them. */
  files(teamId: string, filter?: FileFilter, options?: PageOptions): AsyncIterable<File>;
  /** A team's jobs, newest first, across pages. */
  jobs(teamId: string, options?: PageOptions): AsyncIterable<Job>;
}

/** Query filters of GET /teams/{team_id}/files. */
export type FileFilter = Omit<NonNullable<operations["listFiles"]["parameters"]["query"]>, "cursor" | "limit">;

export interface PageOptions {
  /** Items per request (1–100; the server's default otherwise). */
  pageSize?: number;
  signal?: AbortSignal;
}

/** Walks a list by its next_cursor, one request per page, lazily. */
async function* pages<T>(fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor?: string | null }>): AsyncGenerator<T> {
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.items;
    if (!page.next_cursor) return;
    cursor = page.next_cursor;
  }
}

/** Reports whether b is a later state of the job than a. */
function newer(b: Job, a: Job): boolean {
  const tb = Date.parse(b.updated_at);
  const ta = Date.parse(a.updated_at);
  if (tb < ta) return false;
  return tb > ta || b.status !== a.status || b.progress !== a.progress || b.attempts !== a.attempts;
}

function apiBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, "");
  return trimmed.endsWith(API_BASE_PATH) ? trimmed : trimmed + API_BASE_PATH;
}

/** Returns the data of a call that cannot have failed (failures reject with ConveyorProblem). */
function expectData<T>(result: { data?: T; response: Response }): T {
  if (result.data === undefined) {
    throw new Error(`conveyor: ${result.response.status} answer without a body`);
  }
  return result.data;
}

export function createConveyorClient(options: ConveyorClientOptions): ConveyorClient {
  const clientOptions: Parameters<typeof createClient>[0] = {
    baseUrl: apiBaseUrl(options.baseUrl),
    fetch: retryingFetch(options.fetch ?? ((r: Request) => globalThis.fetch(r)), options.retry),
  };
  if (options.headers) clientOptions.headers = options.headers;
  const api = createClient<paths>(clientOptions);

  const { token, getToken } = options;
  if (token !== undefined || getToken !== undefined) {
    const auth: Middleware = {
      async onRequest({ request }) {
        const bearer = token ?? (await getToken?.());
        if (bearer) request.headers.set("Authorization", `Bearer ${bearer}`);
        return request;
      },
    };
    api.use(auth);
  }

  // Every POST creates (or completes) something: give it an Idempotency-Key,
  // so retries replay the first answer instead of creating twice.
  const idempotency: Middleware = {
    onRequest({ request }) {
      if (request.method === "POST" && !request.headers.has("Idempotency-Key")) {
        request.headers.set("Idempotency-Key", globalThis.crypto.randomUUID());
      }
      return request;
    },
  };
  api.use(idempotency);

  // A redirect only reaches here when asked for (redirect: "manual"), as
  // downloads do: it is theirs to follow.
  const problems: Middleware = {
    async onResponse({ response }) {
      const redirect = response.type === "opaqueredirect" || (response.status >= 300 && response.status <= 399);
      if (!response.ok && !redirect) throw await ConveyorProblem.fromResponse(response);
      return undefined;
    },
  };
  api.use(problems);

  const baseFetch = options.fetch ?? ((r: Request) => globalThis.fetch(r));

  async function uploadFile(
    teamId: string,
    data: Blob | Uint8Array,
    name: string,
    uploadOptions: UploadOptions = {},
  ): Promise<File> {
    const { contentType, onProgress, onRetry, signal } = uploadOptions;
    const blob =
      data instanceof Blob
        ? contentType
          ? new Blob([data], { type: contentType })
          : data
        : // slice() copies into a plain ArrayBuffer, which Blob accepts.
          new Blob([data.slice()], { type: contentType ?? "application/octet-stream" });
    const params = { path: { team_id: teamId } };
    // The spec's `format: binary` part is generated as `string`; the real body
    // is made below. The placeholder only satisfies the type.
    const typed = { file: name };
    if (onProgress && !hasXHR()) {
      // Node and other runtimes without XMLHttpRequest: the multipart body is
      // streamed through fetch and counted as it goes.
      const framing = multipartFraming(name, blob.type || "application/octet-stream");
      const result = await api.POST("/teams/{team_id}/files", {
        params,
        body: typed,
        bodySerializer: () => "",
        headers: { "Content-Type": `multipart/form-data; boundary=${framing.boundary}` },
        fetch: retryingFetch(streamingFetch(baseFetch, blob, framing, onProgress), options.retry, onRetry),
        ...(signal ? { signal } : {}),
      });
      return expectData(result);
    }
    const form = new FormData();
    form.append("file", blob, name);
    const result = await api.POST("/teams/{team_id}/files", {
      params,
      body: typed,
      // openapi-fetch sends FormData as multipart/form-data (fetch sets the boundary).
      bodySerializer: () => form,
      ...(onProgress ? { fetch: retryingFetch(xhrFetch(onProgress), options.retry, onRetry) } : onRetry ? { fetch: retryingFetch(baseFetch, options.retry, onRetry) } : {}),
      ...(signal ? { signal } : {}),
    });
    return expectData(result);
  }

  async function uploadDirect(teamId: string, data: Blob | Uint8Array, name: string, o: DirectUploadOptions = {}): Promise<File> {
    const blob = data instanceof Blob ? data : new Blob([data.slice()], { type: o.contentType ?? "application/octet-stream" });
    const contentType = o.contentType ?? blob.type;
    const signal = o.signal ?? new AbortController().signal;
    const params = { path: { team_id: teamId } };
    const withRetry = o.onRetry ? { fetch: retryingFetch(baseFetch, options.retry, o.onRetry) } : {};
    const upload = expectData(
      await api.POST("/teams/{team_id}/uploads", {
        params,
        body: { name, size: blob.size, ...(contentType ? { content_type: contentType } : {}), ...(o.sha256 ? { sha256: o.sha256 } : {}) },
        signal,
        ...withRetry,
      }),
    );
    const partSize = upload.method === "multipart" ? (upload.part_size ?? 0) : blob.size;
    if (upload.method === "multipart" && partSize <= 0) throw new Error("conveyor: a multipart upload without part_size");
    const parts: DirectPart[] = upload.parts.map((p) => {
      const start = (p.part_number - 1) * partSize;
      return { part_number: p.part_number, url: p.url, blob: upload.method === "multipart" ? blob.slice(start, Math.min(start + partSize, blob.size)) : blob };
    });
    o.onProgress?.(0, blob.size);
    const etags = await sendParts(baseFetch, parts, {
      concurrency: o.concurrency ?? 4,
      retries: o.partRetries ?? 3,
      signal,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.onRetry ? { onRetry: o.onRetry } : {}),
    });
    return expectData(
      await api.POST("/teams/{team_id}/uploads/{upload_id}/complete", {
        params: { path: { team_id: teamId, upload_id: upload.id } },
        body: upload.method === "multipart" ? { parts: etags } : {},
        signal,
        ...withRetry,
      }),
    );
  }

  async function waitForJob(teamId: string, jobId: string, waitOptions: WaitForJobOptions = {}): Promise<Job> {
    const { timeoutMs = 60_000, intervalMs = 500, signal } = waitOptions;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = expectData(
        await api.GET("/teams/{team_id}/jobs/{job_id}", {
          params: { path: { team_id: teamId, job_id: jobId } },
          ...(signal ? { signal } : {}),
        }),
      );
      if (FINAL_JOB_STATUSES.includes(job.status)) return job;
      const left = deadline - Date.now();
      if (left <= 0) throw new JobWaitTimeoutError(job);
      await sleep(Math.min(intervalMs, left), signal);
    }
  }

  const paging = (o: PageOptions, cursor: string | undefined) => ({
    ...(o.pageSize !== undefined ? { limit: o.pageSize } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  });
  const teams = (o: PageOptions = {}) =>
    pages(async (cursor) =>
      expectData(await api.GET("/teams", { params: { query: paging(o, cursor) }, ...(o.signal ? { signal: o.signal } : {}) })),
    );
  const files = (teamId: string, filter: FileFilter = {}, o: PageOptions = {}) =>
    pages(async (cursor) =>
      expectData(
        await api.GET("/teams/{team_id}/files", {
          params: { path: { team_id: teamId }, query: { ...filter, ...paging(o, cursor) } },
          ...(o.signal ? { signal: o.signal } : {}),
        }),
      ),
    );
  const jobs = (teamId: string, o: PageOptions = {}) =>
    pages(async (cursor) =>
      expectData(
        await api.GET("/teams/{team_id}/jobs", {
          params: { path: { team_id: teamId }, query: paging(o, cursor) },
          ...(o.signal ? { signal: o.signal } : {}),
        }),
      ),
    );

  const withSignal = (o: CallOptions) => (o.signal ? { signal: o.signal } : {});

  const cancelJob = async (teamId: string, jobId: string, o: CallOptions = {}) =>
    expectData(
      await api.POST("/teams/{team_id}/jobs/{job_id}/cancel", { params: { path: { team_id: teamId, job_id: jobId } }, ...withSignal(o) }),
    );
  const retryJob = async (teamId: string, jobId: string, o: CallOptions = {}) =>
    expectData(
      await api.POST("/teams/{team_id}/jobs/{job_id}/retry", { params: { path: { team_id: teamId, job_id: jobId } }, ...withSignal(o) }),
    );
  const jobOutputs = async (teamId: string, jobId: string, o: CallOptions = {}) =>
    expectData(
      await api.GET("/teams/{team_id}/jobs/{job_id}/outputs", { params: { path: { team_id: teamId, job_id: jobId } }, ...withSignal(o) }),
    ).items;

  // Downloads ask for the redirect instead of following it, so that the
  // presigned URL is fetched without our Authorization header.
  const outputRedirect = async (teamId: string, jobId: string, name: string, o: OpenOutputOptions, redirect: RequestRedirect) =>
    (
      await api.GET("/teams/{team_id}/jobs/{job_id}/outputs/{name}", {
        params: { path: { team_id: teamId, job_id: jobId, name }, ...(o.delivery ? { query: { delivery: o.delivery } } : {}) },
        parseAs: "stream",
        redirect,
        ...withSignal(o),
      })
    ).response;
  const fileRedirect = async (teamId: string, fileId: string, o: OpenFileOptions, redirect: RequestRedirect) =>
    (
      await api.GET("/teams/{team_id}/files/{file_id}/content", {
        params: { path: { team_id: teamId, file_id: fileId }, ...(o.delivery ? { query: { delivery: o.delivery } } : {}) },
        parseAs: "stream",
        redirect,
        ...withSignal(o),
      })
    ).response;

  /** The body of a download: the API's own 2xx, or storage's answer at the redirect's Location. */
  async function follow(response: Response, again: () => Promise<Response>, o: CallOptions): Promise<Response> {
    if (response.type === "opaqueredirect") {
      // A browser hides the Location from scripts: let it follow the
      // redirect itself (it drops Authorization on a cross-origin redirect).
      return again();
    }
    if (response.ok) return response;
    const location = response.headers.get("Location");
    if (!location) throw await ConveyorProblem.fromResponse(response);
    const stored = await baseFetch(new Request(new URL(location, response.url || undefined), withSignal(o)));
    if (!stored.ok) throw await ConveyorProblem.fromResponse(stored);
    return stored;
  }
  const openOutput = async (teamId: string, jobId: string, name: string, o: OpenOutputOptions = {}) =>
    follow(await outputRedirect(teamId, jobId, name, o, "manual"), () => outputRedirect(teamId, jobId, name, o, "follow"), o);
  const openFile = async (teamId: string, fileId: string, o: OpenFileOptions = {}) =>
    follow(await fileRedirect(teamId, fileId, o, "manual"), () => fileRedirect(teamId, fileId, o, "follow"), o);
  async function outputUrl(teamId: string, jobId: string, name: string, o: CallOptions = {}): Promise<string> {
    const response = await outputRedirect(teamId, jobId, name, o, "manual");
    if (!response.bodyUsed) await response.body?.cancel();
    const location = response.headers.get("Location");
    if (response.type === "opaqueredirect" || !location) {
      throw new Error("conveyor: this runtime hides the redirect (a browser): use openOutput instead of outputUrl");
    }
    return new URL(location, response.url || undefined).toString();
  }

  const events = (teamId: string, o: EventsOptions = {}): EventStream =>
    new ConveyorEventStream(async (lastEventId, signal) => {
      const { response } = await api.GET("/teams/{team_id}/events", {
        params: { path: { team_id: teamId }, ...(lastEventId ? { header: { "Last-Event-ID": lastEventId } } : {}) },
        headers: { Accept: "text/event-stream" },
        parseAs: "stream",
        signal,
      });
      return response;
    }, o);

  async function* watchJob(teamId: string, jobId: string, o: CallOptions = {}): AsyncGenerator<Job> {
    // The stream first, then the job: a change in between is on the stream.
    const stream = events(teamId, o);
    try {
      await stream.opened;
      const read = async () =>
        expectData(await api.GET("/teams/{team_id}/jobs/{job_id}", { params: { path: { team_id: teamId, job_id: jobId } }, ...withSignal(o) }));
      let job = await read();
      yield job;
      if (FINAL_JOB_STATUSES.includes(job.status)) return;
      for await (const ev of stream) {
        let next: Job | undefined;
        if (ev.type === "reset") next = await read();
        else if (ev.type === "job.updated" && ev.job?.id === jobId) next = ev.job;
        if (!next || !newer(next, job)) continue;
        job = next;
        yield job;
        if (FINAL_JOB_STATUSES.includes(job.status)) return;
      }
    } finally {
      stream.close();
    }
  }

  return {
    api,
    uploadFile,
    uploadDirect,
    waitForJob,
    watchJob,
    cancelJob,
    retryJob,
    jobOutputs,
    outputUrl,
    openOutput,
    openFile,
    events,
    teams,
    files,
    jobs,
  };
}
