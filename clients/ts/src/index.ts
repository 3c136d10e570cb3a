// @conveyor/client: a thin, typed client for the Conveyor API v1.
//
// Every request and response type comes from ./schema.gen.ts, which
// openapi-typescript generates from openapi/v1/openapi.yaml (`npm run generate`).
// The HTTP calls are made by openapi-fetch; this file only adds authentication,
// retries, Idempotency-Keys, typed errors (ConveyorProblem), multipart upload
// and job polling.

import createClient from "openapi-fetch";
import type { Client, Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.gen.js";

export type { components, operations, paths };

type Schemas = components["schemas"];
/** An RFC 9457 problem document, as the API returns for every 4xx and 5xx. */
export type Problem = Schemas["Problem"];
export type FieldError = Schemas["FieldError"];
export type Me = Schemas["Me"];
export type Team = Schemas["Team"];
export type File = Schemas["File"];
export type Job = Schemas["Job"];
export type JobStatus = Schemas["JobStatus"];
export type JobCreate = Schemas["JobCreate"];
export type Processor = Schemas["Processor"];

/** The typed openapi-fetch client for every path of the API. */
export type ConveyorApi = Client<paths>;

/** The path prefix of API v1 (the spec's `servers[0].url`). */
export const API_BASE_PATH = "/api/v1";

/** The job states after which a job never changes again. */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "cancelled"];

/**
 * Thrown for every answer outside 2xx. Carries the problem document the
 * server sent; when the body was not a problem document (a proxy's error
 * page, say) the fields are synthesised from the HTTP status.
 */
export class ConveyorProblem extends Error implements Problem {
  override readonly name = "ConveyorProblem";
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly request_id?: string;
  readonly errors?: FieldError[];
  /** The raw HTTP response (its body has been read). */
  readonly response: Response;

  constructor(problem: Problem, response: Response) {
    super(`${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}`);
    this.type = problem.type;
    this.title = problem.title;
    this.status = problem.status;
    if (problem.detail !== undefined) this.detail = problem.detail;
    if (problem.instance !== undefined) this.instance = problem.instance;
    if (problem.request_id !== undefined) this.request_id = problem.request_id;
    if (problem.errors !== undefined) this.errors = problem.errors;
    this.response = response;
  }

  /** Reads a non-2xx response into a ConveyorProblem. */
  static async fromResponse(response: Response): Promise<ConveyorProblem> {
    const text = await response.text().catch(() => "");
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const requestId = response.headers.get("X-Request-ID") ?? undefined;
    if (isProblem(parsed)) {
      const problem: Problem = { ...parsed };
      if (problem.request_id === undefined && requestId !== undefined) problem.request_id = requestId;
      return new ConveyorProblem(problem, response);
    }
    const problem: Problem = {
      type: "about:blank",
      title: response.statusText || `HTTP ${response.status}`,
      status: response.status,
    };
    if (text) problem.detail = text.slice(0, 4096);
    if (requestId !== undefined) problem.request_id = requestId;
    return new ConveyorProblem(problem, response);
  }
}

function isProblem(v: unknown): v is Problem {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o["type"] === "string" && typeof o["title"] === "string" && typeof o["status"] === "number";
}

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

/** Wraps fetch with the retry policy. A request is cloned before each try so its body can be sent again. */
function retryingFetch(inner: (input: Request) => Promise<Response>, policy: RetryPolicy = {}): (input: Request) => Promise<Response> {
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
        await sleep(backoffMs(attempt, p), request.signal);
        continue;
      }
      if (last || (response.status !== 429 && response.status !== 503)) return response;
      const after = Number(response.headers.get("Retry-After"));
      await response.body?.cancel();
      await sleep(Number.isFinite(after) && after >= 0 ? Math.min(after * 1000, 60_000) : backoffMs(attempt, p), request.signal);
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
}

export interface ConveyorClient {
  /** The typed openapi-fetch client. Any non-2xx answer rejects with a ConveyorProblem. */
  readonly api: ConveyorApi;
  /** POST /teams/{team_id}/files as multipart/form-data with the bytes in part `file`. */
  uploadFile(teamId: string, data: Blob | Uint8Array, name: string, options?: UploadOptions): Promise<File>;
  /** Polls GET /teams/{team_id}/jobs/{job_id} until the job is succeeded, failed or cancelled. */
  waitForJob(teamId: string, jobId: string, options?: WaitForJobOptions): Promise<Job>;
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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
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

  const problems: Middleware = {
    async onResponse({ response }) {
      if (!response.ok) throw await ConveyorProblem.fromResponse(response);
      return undefined;
    },
  };
  api.use(problems);

  async function uploadFile(
    teamId: string,
    data: Blob | Uint8Array,
    name: string,
    uploadOptions: UploadOptions = {},
  ): Promise<File> {
    const { contentType } = uploadOptions;
    const blob =
      data instanceof Blob
        ? contentType
          ? new Blob([data], { type: contentType })
          : data
        : // slice() copies into a plain ArrayBuffer, which Blob accepts.
          new Blob([data.slice()], { type: contentType ?? "application/octet-stream" });
    const form = new FormData();
    form.append("file", blob, name);
    const result = await api.POST("/teams/{team_id}/files", {
      params: { path: { team_id: teamId } },
      // The spec's `format: binary` part is generated as `string`; the real body
      // is the FormData above, which openapi-fetch sends as multipart/form-data
      // (fetch sets the boundary). The placeholder only satisfies the type.
      body: { file: name },
      bodySerializer: () => form,
      ...(uploadOptions.signal ? { signal: uploadOptions.signal } : {}),
    });
    return expectData(result);
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

  return { api, uploadFile, waitForJob, teams, files, jobs };
}
