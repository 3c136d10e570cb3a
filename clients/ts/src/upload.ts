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
