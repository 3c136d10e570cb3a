import { describe, expect, it } from "vitest";
import type { File as ConveyorFile } from "@conveyor/client";
import { DIRECT_THRESHOLD, SpeedMeter, UploadQueue, formatBytes, formatDuration, type Transfer } from "./uploads";

const stored = (name: string): ConveyorFile => ({
  id: "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d", team_id: "t", name, size: 1, sha256: "0".repeat(64),
  content_type: "application/octet-stream", created_at: "2026-01-01T00:00:00Z",
});

/** A transfer whose progress and end the test drives. */
function controlled() {
  const calls: { name: string; route: string; hooks: Parameters<Transfer>[3]; resolve: (f: ConveyorFile) => void; reject: (e: unknown) => void }[] = [];
  const transfer: Transfer = (_blob, name, route, hooks) =>
    new Promise((resolve, reject) => {
      calls.push({ name, route, hooks, resolve, reject });
      hooks.signal.addEventListener("abort", () => reject(hooks.signal.reason));
    });
  return { calls, transfer };
}
const file = (name: string, size: number) => new File([new Uint8Array(Math.min(size, 16))], name, { type: "application/octet-stream" }) as File & { size: number };
function sized(name: string, size: number): File {
  const f = file(name, size);
  Object.defineProperty(f, "size", { value: size });
  return f;
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("UploadQueue", () => {
  it("routes large files direct, runs two at a time, tracks progress, speed and time left", async () => {
    let t = 0;
    const { calls, transfer } = controlled();
    const done: string[] = [];
    const q = new UploadQueue(transfer, (f) => done.push(f.name), () => t);
    q.add([sized("a.bin", 100), sized("big.bin", DIRECT_THRESHOLD), sized("c.bin", 10)]);
    await tick();
    expect(q.items.map((i) => [i.name, i.route, i.status])).toEqual([
      ["a.bin", "stream", "uploading"],
      ["big.bin", "direct", "uploading"],
      ["c.bin", "stream", "queued"],
    ]);
    expect(calls.map((c) => c.route)).toEqual(["stream", "direct"]);
    t = 1000;
    calls[0]!.hooks.onProgress(50, 100);
    t = 2000;
    calls[0]!.hooks.onProgress(75, 100);
    const a = q.items[0]!;
    expect(a.sent).toBe(75);
    expect(a.speed).toBeGreaterThan(0);
    expect(a.secondsLeft).toBe(Math.ceil(25 / a.speed));
    calls[0]!.resolve(stored("a.bin"));
    await tick();
    await tick();
    expect(a.status).toBe("done");
    expect(done).toEqual(["a.bin"]);
    expect(q.items[2]!.status).toBe("uploading"); // the third started when a slot freed
    expect(q.active).toBe(true);
  });

  it("cancels one file or the batch, and retries by hand", async () => {
    const { calls, transfer } = controlled();
    const q = new UploadQueue(transfer);
    q.add([sized("a", 1), sized("b", 1), sized("c", 1)]);
    await tick();
    q.cancel(q.items[0]!.id);
    await tick();
    expect(q.items[0]!.status).toBe("cancelled");
    expect(calls[0]!.hooks.signal.aborted).toBe(true);
    q.cancelAll();
    await tick();
    expect(q.items.map((i) => i.status)).toEqual(["cancelled", "cancelled", "cancelled"]);
    expect(q.active).toBe(false);
    q.retry(q.items[2]!.id);
    await tick();
    expect(q.items[2]!.status).toBe("uploading");
    calls.at(-1)!.resolve(stored("c"));
    await tick();
    expect(q.items[2]!.status).toBe("done");
    q.clearFinished();
    expect(q.items).toHaveLength(0);
  });

  it("shows the wait after a 429 until the next try, and a failure with its error", async () => {
    let t = 10_000;
    const { calls, transfer } = controlled();
    const q = new UploadQueue(transfer, () => {}, () => t);
    q.add([sized("a", 5)]);
    await tick();
    calls[0]!.hooks.onRetry(3000);
    expect(q.items[0]!.status).toBe("waiting");
    expect(q.items[0]!.retryAt).toBe(13_000);
    t = 13_100;
    calls[0]!.hooks.onProgress(1, 5);
    expect(q.items[0]!.status).toBe("uploading");
    expect(q.items[0]!.retryAt).toBeNull();
    const err = new Error("boom");
    calls[0]!.reject(err);
    await tick();
    expect(q.items[0]!.status).toBe("failed");
    expect(q.items[0]!.error).toBe(err);
  });
});

describe("SpeedMeter", () => {
  it("smooths the rate and starts again when the count goes back (a retry)", () => {
    const m = new SpeedMeter(1000);
    m.sample(0, 0);
    m.sample(1000, 1000);
    expect(m.rate).toBe(1000);
    m.sample(2000, 3000);
    expect(m.rate).toBe(1500);
    expect(m.secondsLeft(3000)).toBe(2);
    m.sample(2500, 0);
    m.sample(3500, 500);
    expect(m.rate).toBeLessThan(1500);
    expect(new SpeedMeter().secondsLeft(10)).toBeNull();
  });
});

it("formats sizes and durations", () => {
  expect(formatBytes(512)).toBe("512 B");
  expect(formatBytes(20 * 1024 * 1024)).toBe("20.0 MiB");
  expect(formatDuration(42)).toBe("42 s");
  expect(formatDuration(185)).toBe("3 min 5 s");
  expect(formatDuration(null)).toBe("—");
});
