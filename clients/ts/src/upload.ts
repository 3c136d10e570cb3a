// Upload transports that report progress. fetch cannot report upload
// progress in browsers, so there the bytes go through XMLHttpRequest
// (upload.onprogress); elsewhere (Node 18+, Deno, Bun) through fetch with a
// streamed multipart body whose bytes are counted as fetch pulls them.

/** Reports the bytes of the request body sent so far (the file plus ~200 bytes of multipart framing), and their total. */
export type UploadProgress = (sent: number, total: number) => void;

type Fetch = (input: Request) => Promise<Response>;

/** Reports whether this runtime has an XMLHttpRequest with upload progress (a browser). */
export function hasXHR(): boolean {
  return typeof globalThis.XMLHttpRequest === "function";
}

/**
 * A fetch that sends the request through XMLHttpRequest, reporting upload
 * progress. The body is read as a Blob first (for a FormData body that is
 * the multipart encoding, boundary included in its type).
 */
export function xhrFetch(onProgress: UploadProgress): Fetch {
  return async (request: Request) => {
    const body = request.method === "GET" || request.method === "HEAD" ? null : await request.blob();
    return new Promise<Response>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      const signal = request.signal;
      const onAbort = () => xhr.abort();
      xhr.open(request.method, request.url, true);
      xhr.responseType = "arraybuffer";
      request.headers.forEach((value, key) => xhr.setRequestHeader(key, value));
      xhr.upload.onprogress = (e: ProgressEvent) => onProgress(e.loaded, e.lengthComputable ? e.total : (body?.size ?? 0));
      xhr.onload = () => {
        signal.removeEventListener("abort", onAbort);
        const headers = new Headers();
        for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
          const colon = line.indexOf(":");
          if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
        }
        const empty = xhr.status === 204 || xhr.status === 205 || xhr.status === 304;
        resolve(new Response(empty ? null : (xhr.response as ArrayBuffer), { status: xhr.status, statusText: xhr.statusText, headers }));
      };
      xhr.onerror = () => {
        signal.removeEventListener("abort", onAbort);
        reject(new TypeError("conveyor: upload failed (network error)"));
      };
      xhr.onabort = () => {
        signal.removeEventListener("abort", onAbort);
        reject(signal.aborted ? signal.reason : new DOMException("The upload was aborted.", "AbortError"));
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      xhr.send(body);
    });
  };
}

const encoder = new TextEncoder();
const CHUNK = 64 << 10;

/** The multipart/form-data framing of one part named `file`. */
export function multipartFraming(name: string, contentType: string): { boundary: string; head: Uint8Array; tail: Uint8Array } {
  const boundary = "conveyor-" + globalThis.crypto.randomUUID();
  // Quotes and line breaks in the name are escaped as the HTML form encoding does.
  const filename = name.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  const head = encoder.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${contentType}\r\n\r\n`,
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  return { boundary, head, tail };
}

/**
 * A fetch that ignores the request's body and sends, instead, `blob` framed
 * as the multipart part `file`, streamed (never copied whole) and counted
 * as fetch pulls it; a new stream for each try, so retries work.
 */
export function streamingFetch(inner: Fetch, blob: Blob, framing: { head: Uint8Array; tail: Uint8Array }, onProgress: UploadProgress): Fetch {
  return async (request: Request) => {
    const total = framing.head.byteLength + blob.size + framing.tail.byteLength;
    let sent = 0;
    let phase: "head" | "body" | "tail" | "done" = "head";
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let pending: Uint8Array | undefined; // what is left of the last chunk
    const body = new ReadableStream<Uint8Array>(
      {
        // One piece of at most CHUNK bytes per pull: fetch pulls as the
        // socket drains, so the count follows what was sent.
        async pull(controller) {
          while (!pending?.byteLength) {
            if (phase === "head") {
              pending = framing.head.slice();
              phase = "body";
            } else if (phase === "body") {
              reader ??= blob.stream().getReader();
              const r = await reader.read();
              if (r.done) phase = "tail";
              else pending = r.value;
            } else if (phase === "tail") {
              pending = framing.tail.slice();
              phase = "done";
            } else {
              return controller.close();
            }
          }
          const piece = pending.subarray(0, CHUNK);
          pending = pending.subarray(piece.byteLength);
          controller.enqueue(piece);
          sent += piece.byteLength;
          onProgress(sent, total);
        },
        cancel(reason) {
          return reader?.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    const init: RequestInit & { duplex: "half" } = {
      method: request.method,
      headers: request.headers,
      body,
      signal: request.signal,
      redirect: request.redirect,
      duplex: "half",
    };
    return inner(new Request(request.url, init));
  };
}

/** One part of a direct upload: its number, its presigned URL, and its bytes. */
export interface DirectPart {
  part_number: number;
  url: string;
  blob: Blob;
}

/** Resolves after ms, or rejects with the signal's reason. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
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

/** Thrown when storage refuses a part (or hides its ETag): not worth another try unless `retryable`. */
export class StorageError extends Error {
  override readonly name = "StorageError";
  constructor(
    message: string,
    readonly status: number,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * PUTs one part's bytes to its presigned URL, with no credentials of ours,
 * and resolves to the ETag storage answered. In a browser through
 * XMLHttpRequest (upload progress; storage must allow the origin by CORS and
 * expose ETag), elsewhere through fetch (progress when the part is done).
 */
export function putPart(fetchImpl: Fetch, part: DirectPart, signal: AbortSignal, onProgress: (loaded: number) => void): Promise<string> {
  if (hasXHR()) {
    return new Promise<string>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const xhr = new XMLHttpRequest();
      const onAbort = () => xhr.abort();
      const done = () => signal.removeEventListener("abort", onAbort);
      xhr.open("PUT", part.url, true);
      xhr.upload.onprogress = (e: ProgressEvent) => onProgress(e.loaded);
      xhr.onload = () => {
        done();
        const etag = xhr.getResponseHeader("ETag");
        if (xhr.status >= 200 && xhr.status < 300 && etag) {
          onProgress(part.blob.size);
          return resolve(etag);
        }
        reject(storageError(xhr.status, etag, xhr.getResponseHeader("Retry-After")));
      };
      xhr.onerror = () => {
        done();
        reject(new TypeError(`conveyor: part ${part.part_number} did not reach storage (network error or CORS)`));
      };
      xhr.onabort = () => {
        done();
        reject(signal.aborted ? signal.reason : new DOMException("The upload was aborted.", "AbortError"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      xhr.send(part.blob);
    });
  }
  return (async () => {
    const res = await fetchImpl(new Request(part.url, { method: "PUT", body: part.blob, signal }));
    const etag = res.headers.get("ETag");
    await res.body?.cancel();
    if (!res.ok || !etag) throw storageError(res.status, etag, res.headers.get("Retry-After"));
    onProgress(part.blob.size);
    return etag;
  })();
}

function storageError(status: number, etag: string | null, retryAfter: string | null): StorageError {
  if (status >= 200 && status < 300 && !etag) {
    return new StorageError("conveyor: storage accepted a part but its ETag is not readable (storage's CORS must expose ETag)", status, false);
  }
  const after = Number(retryAfter ?? NaN);
  const retryable = status === 0 || status === 408 || status === 429 || status >= 500;
  return new StorageError(`conveyor: storage answered ${status} to a part`, status, retryable, Number.isFinite(after) && after >= 0 ? after * 1000 : undefined);
}

export interface SendPartsOptions {
  /** Parts sent at once (default 4). */
  concurrency: number;
  /** Tries per part after the first, for network failures, 408, 429 and 5xx (default 3). */
  retries: number;
  signal: AbortSignal;
  /** Bytes sent so far across all parts, and the total. */
  onProgress?: UploadProgress;
  /** Called before a part is tried again. */
  onRetry?: (waitMs: number, reason: unknown) => void;
}

/**
 * Sends every part, `concurrency` at a time, each tried again on a
 * transient failure; resolves to the parts' ETags in part order. The first
 * part that fails for good aborts the others.
 */
export async function sendParts(fetchImpl: Fetch, parts: DirectPart[], o: SendPartsOptions): Promise<{ part_number: number; etag: string }[]> {
  const total = parts.reduce((n, p) => n + p.blob.size, 0);
  const loaded = new Map<number, number>();
  const report = () => o.onProgress?.([...loaded.values()].reduce((a, b) => a + b, 0), total);
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(o.signal.reason);
  if (o.signal.aborted) onAbort();
  else o.signal.addEventListener("abort", onAbort, { once: true });
  const etags: { part_number: number; etag: string }[] = new Array(parts.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < parts.length) {
      const i = next++;
      const part = parts[i]!;
      for (let attempt = 0; ; attempt++) {
        try {
          const etag = await putPart(fetchImpl, part, ctl.signal, (n) => {
            loaded.set(part.part_number, n);
            report();
          });
          etags[i] = { part_number: part.part_number, etag };
          break;
        } catch (err) {
          loaded.set(part.part_number, 0);
          report();
          const transient = err instanceof StorageError ? err.retryable : err instanceof TypeError;
          if (ctl.signal.aborted) throw err;
          if (!transient || attempt >= o.retries) {
            ctl.abort(err); // the other parts stop too
            throw err;
          }
          const wait = err instanceof StorageError && err.retryAfterMs !== undefined ? Math.min(err.retryAfterMs, 60_000) : 250 * 2 ** attempt;
          o.onRetry?.(wait, err);
          await pause(wait, ctl.signal);
        }
      }
    }
  }
  try {
    const lanes = Array.from({ length: Math.max(1, Math.min(o.concurrency, parts.length)) }, () => lane());
    const results = await Promise.allSettled(lanes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    return etags;
  } catch (err) {
    ctl.abort(err);
    throw err;
  } finally {
    o.signal.removeEventListener("abort", onAbort);
  }
}
