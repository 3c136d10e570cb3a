import { describe, expect, it } from "vitest";
import { formatLatency, formatSeconds, whatIsWrong, type PlatformStatus } from "./health";

describe("formatSeconds", () => {
  it.each([
    [null, "—"],
    [0, "0 s"],
    [0.42, "0.4 s"],
    [9.96, "10 s"],
    [12.4, "12 s"],
    [60, "1 min"],
    [185, "3 min 5 s"],
    [7440, "2 h 4 min"],
    [7200, "2 h"],
    [3 * 86400 + 7200, "3 d 2 h"],
    [-1, "—"],
  ])("%s seconds is %s", (s, shown) => {
    expect(formatSeconds(s)).toBe(shown);
  });
});

describe("formatLatency", () => {
  it("keeps a decimal below 10 ms", () => {
    expect(formatLatency(0.83)).toBe("0.8 ms");
    expect(formatLatency(12.6)).toBe("13 ms");
    expect(formatLatency(null)).toBe("—");
  });
});

const healthy = (): PlatformStatus => ({
  status: "ok",
  checked_at: "2026-01-01T00:00:00Z",
  database: {
    primary: { reachable: true, latency_ms: 0.5 },
    replicas: [{ name: "replica1", reachable: true, taking_reads: true, lag_bytes: 0, lag_seconds: 0, checked_at: "2026-01-01T00:00:00Z" }],
  },
  redis: { reachable: true, latency_ms: 0.2 },
  s3: { reachable: true, latency_ms: 1.5 },
  queues: [],
  workers: [{ host: "w1", pid: 1, concurrency: 10, active_jobs: 0, queues: ["default"], started_at: "2026-01-01T00:00:00Z" }],
});

describe("whatIsWrong", () => {
  it("is nothing when all is well", () => {
    expect(whatIsWrong(healthy())).toEqual([]);
  });
  it("names each fact to look at", () => {
    const st = healthy();
    st.database.primary = { reachable: false, latency_ms: null };
    st.database.replicas.push({ name: "replica2", reachable: true, taking_reads: false, lag_bytes: 1 << 20, lag_seconds: 42, checked_at: null });
    st.database.replicas.push({ name: "replica3", reachable: false, taking_reads: false, lag_bytes: null, lag_seconds: null, checked_at: null });
    st.s3 = { reachable: false, latency_ms: null };
    st.workers = [];
    expect(whatIsWrong(st)).toEqual([
      "The database primary does not answer: writes fail.",
      "Replica replica2 takes no reads (lag 42 s).",
      "Replica replica3 does not answer.",
      "S3 does not answer: uploads and downloads fail.",
      "No worker has been seen recently: jobs wait.",
    ]);
  });
  it("does not blame the workers when Redis, where they are seen, is down", () => {
    const st = healthy();
    st.redis = { reachable: false, latency_ms: null };
    st.workers = [];
    expect(whatIsWrong(st)).toEqual(["Redis does not answer: jobs are not dispatched, queues and workers cannot be read."]);
  });
});
