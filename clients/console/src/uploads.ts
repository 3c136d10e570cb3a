// uploads: the upload queue behind the drop zone — several files at once,
// per-file progress (bytes, speed, time left), cancel per file or for the
// batch, and a visible wait when the API rate-limits (the client retries
// after Retry-After; a file that still fails can be retried by hand).
// Files above DIRECT_THRESHOLD go straight to storage in parallel parts.

import type { File as ConveyorFile } from "@conveyor/client";
import { reactive } from "vue";

/** DIRECT_THRESHOLD: files this large or larger go direct to storage, in parts. */
export const DIRECT_THRESHOLD = 8 * 1024 * 1024;

/** MAX_PARALLEL_FILES is how many files upload at once. */
export const MAX_PARALLEL_FILES = 2;

export type UploadStatus = "queued" | "uploading" | "waiting" | "done" | "failed" | "cancelled";

/** UploadItem is one file in the queue, as shown. */
export interface UploadItem {
  id: number;
  name: string;
  size: number;
  /** "direct": to storage in parts; "stream": through the API. */
  route: "direct" | "stream";
  status: UploadStatus;
  /** Bytes sent so far, and the total (the file's size). */
  sent: number;
  total: number;
  /** Bytes per second, smoothed; 0 until known. */
  speed: number;
  /** Seconds left at that speed; null until known. */
  secondsLeft: number | null;
  /** While waiting after a 429/503: when the next try starts (ms since the epoch). */
  retryAt: number | null;
  error: unknown;
  result: ConveyorFile | null;
}

/** Transfer is how one file is sent: the console passes the client's uploadFile / uploadDirect. */
export type Transfer = (
  file: Blob,
  name: string,
  route: "direct" | "stream",
  hooks: { id: number; onProgress: (sent: number, total: number) => void; onRetry: (waitMs: number) => void; signal: AbortSignal },
) => Promise<ConveyorFile>;

/** SpeedMeter smooths a transfer rate from (time, bytes) samples. */
export class SpeedMeter {
  private lastT: number | undefined;
  private lastB = 0;
  /** rate is bytes per second, exponentially smoothed. */
  rate = 0;
  constructor(private readonly halfLifeMs = 2000) {}

  /** sample records that `bytes` had been sent at time `t` (ms). */
  sample(t: number, bytes: number): void {
    if (this.lastT === undefined || bytes < this.lastB) {
      // First sample, or a retry started the count again.
      this.lastT = t;
      this.lastB = bytes;
      return;
    }
    const dt = t - this.lastT;
    if (dt < 200) return; // too close to measure
    const inst = ((bytes - this.lastB) * 1000) / dt;
    const w = this.rate === 0 ? 1 : 1 - Math.pow(0.5, dt / this.halfLifeMs);
    this.rate = this.rate + w * (inst - this.rate);
    this.lastT = t;
    this.lastB = bytes;
  }

  /** secondsLeft is the time to send `remaining` bytes at the current rate, or null when unknown. */
  secondsLeft(remaining: number): number | null {
    return this.rate > 0 ? Math.ceil(remaining / this.rate) : null;
  }
}

/** UploadQueue runs uploads, MAX_PARALLEL_FILES at a time. */
export class UploadQueue {
  readonly items: UploadItem[] = reactive([]);
  private nextId = 1;
  private readonly blobs = new Map<number, Blob>();
  private readonly controllers = new Map<number, AbortController>();
  private running = 0;

  constructor(
    private readonly transfer: Transfer,
    private readonly onDone: (file: ConveyorFile) => void = () => {},
    private readonly now: () => number = () => Date.now(),
    private readonly parallel = MAX_PARALLEL_FILES,
  ) {}

  /** add queues files (from a drop or the file picker) and starts them. */
  add(files: Iterable<globalThis.File>): void {
    for (const f of files) {
      const id = this.nextId++;
      this.blobs.set(id, f);
      this.items.push({
        id,
        name: f.name,
        size: f.size,
        route: f.size >= DIRECT_THRESHOLD ? "direct" : "stream",
        status: "queued",
        sent: 0,
        total: f.size,
        speed: 0,
        secondsLeft: null,
        retryAt: null,
        error: null,
        result: null,
      });
    }
    this.pump();
  }

  /** active reports whether any file is still queued, uploading or waiting. */
  get active(): boolean {
    return this.items.some((i) => i.status === "queued" || i.status === "uploading" || i.status === "waiting");
  }

  /** cancel stops one file (queued or in flight). */
  cancel(id: number): void {
    const item = this.find(id);
    if (!item || !["queued", "uploading", "waiting"].includes(item.status)) return;
    item.status = "cancelled";
    item.retryAt = null;
    this.controllers.get(id)?.abort(new DOMException("Cancelled by the user.", "AbortError"));
  }

  /** cancelAll stops every file not finished. */
  cancelAll(): void {
    for (const i of this.items) this.cancel(i.id);
  }

  /** retry queues a failed or cancelled file again. */
  retry(id: number): void {
    const item = this.find(id);
    if (!item || (item.status !== "failed" && item.status !== "cancelled")) return;
    Object.assign(item, { status: "queued", sent: 0, speed: 0, secondsLeft: null, retryAt: null, error: null });
    this.pump();
  }

  /** clearFinished drops the done, failed and cancelled files from the list. */
  clearFinished(): void {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i]!;
      if (it.status === "done" || it.status === "failed" || it.status === "cancelled") {
        this.blobs.delete(it.id);
        this.items.splice(i, 1);
      }
    }
  }

  private find(id: number): UploadItem | undefined {
    return this.items.find((i) => i.id === id);
  }

  private pump(): void {
    while (this.running < this.parallel) {
      const next = this.items.find((i) => i.status === "queued");
      if (!next) return;
      this.running++;
      void this.run(next).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(item: UploadItem): Promise<void> {
    const blob = this.blobs.get(item.id);
    if (!blob) return;
    const ctl = new AbortController();
    this.controllers.set(item.id, ctl);
    const meter = new SpeedMeter();
    item.status = "uploading";
    meter.sample(this.now(), 0);
    try {
      const file = await this.transfer(blob, item.name, item.route, {
        id: item.id,
        signal: ctl.signal,
        onProgress: (sent, total) => {
          if (item.status === "cancelled") return;
          item.status = "uploading";
          item.retryAt = null;
          // Multipart framing makes the streamed total a little over the file's size.
          item.total = Math.max(total, 1);
          item.sent = Math.min(sent, item.total);
          meter.sample(this.now(), sent);
          item.speed = meter.rate;
          item.secondsLeft = meter.secondsLeft(item.total - item.sent);
        },
        onRetry: (waitMs) => {
          if (item.status === "cancelled") return;
          item.status = "waiting";
          item.retryAt = this.now() + waitMs;
          item.sent = 0;
        },
      });
      if (cancelled(item)) return;
      item.status = "done";
      item.sent = item.total;
      item.secondsLeft = 0;
      item.result = file;
      this.onDone(file);
    } catch (err) {
      if (cancelled(item) || ctl.signal.aborted) {
        item.status = "cancelled";
        return;
      }
      item.status = "failed";
      item.error = err;
      item.retryAt = null;
    } finally {
      this.controllers.delete(item.id);
    }
  }
}

/** cancelled reports whether the user cancelled item (it changes while an upload awaits). */
function cancelled(item: UploadItem): boolean {
  return item.status === "cancelled";
}

/** formatBytes renders a size for people (KiB, MiB, ... with one decimal). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "—";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** formatDuration renders seconds as "45 s", "3 min 5 s", "2 h 4 min". */
export function formatDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return "—";
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
