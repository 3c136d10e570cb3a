#!/usr/bin/env bash
# Packs @conveyor/client as it would be published, installs the tarball into
# a fresh project (with TypeScript 5, as a consumer would) and type-checks a
# program that uses its public API under strict settings.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$here"
tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
cd "$work"
npm init -y >/dev/null
tsver="$(node -p "require('$here/package.json').devDependencies.typescript")"
npm install --no-audit --no-fund --ignore-scripts --loglevel=error "./$tarball" "typescript@$tsver" >/dev/null
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "module": "NodeNext", "moduleResolution": "NodeNext", "target": "ES2022", "noEmit": true, "skipLibCheck": false } }
JSON
cat > consumer.ts <<'TS'
import {
  createConveyorClient, ConveyorProblem, EventStreamError,
  type ConveyorEvent, type EventStream, type File, type Job, type JobOutput, type Team,
} from "@conveyor/client";
import { verifyWebhook, WebhookSignatureError, type WebhookEvent } from "@conveyor/client/webhooks";

export function receive(raw: string, headers: Headers): string {
  try {
    const ev: WebhookEvent<{ id: string }> = verifyWebhook<{ id: string }>(["whsec_a", "whsec_b"], raw, headers);
    return `${ev.id} ${ev.type} ${ev.data.id}`;
  } catch (err) {
    return err instanceof WebhookSignatureError ? "bad signature" : "error";
  }
}

const c = createConveyorClient({ baseUrl: "http://127.0.0.1:8080", token: "t", retry: { maxRetries: 2 } });

export async function run(): Promise<string> {
  const { data: team } = await c.api.POST("/teams", { body: { name: "Imaging" } });
  const t: Team | undefined = team;
  const file: File = await c.uploadFile(t!.id, new Uint8Array([1, 2, 3]), "a.bin", {
    onProgress: (sent: number, total: number) => void (sent / total),
  });
  const { data: job } = await c.api.POST("/teams/{team_id}/jobs", {
    params: { path: { team_id: t!.id } },
    body: { file_id: file.id, processor: "inspect" },
  });
  const done: Job = await c.waitForJob(t!.id, job!.id);
  for await (const f of c.files(t!.id, { name_prefix: "a" }, { pageSize: 10 })) void f.sha256;
  for await (const j of c.watchJob(t!.id, job!.id)) void j.progress;
  const cancelled: Job = await c.cancelJob(t!.id, job!.id);
  const retried: Job = await c.retryJob(t!.id, job!.id);
  const outputs: JobOutput[] = await c.jobOutputs(t!.id, job!.id);
  const body: ReadableStream<Uint8Array> | null = (await c.openOutput(t!.id, job!.id, outputs[0]!.name)).body;
  const url: string = await c.outputUrl(t!.id, job!.id, outputs[0]!.name);
  const stream: EventStream = c.events(t!.id, { lastEventId: "1-0", signal: AbortSignal.timeout(1000), idleTimeoutMs: 0 });
  await stream.opened;
  for await (const ev of stream) {
    const e: ConveyorEvent = ev;
    if (e.type === "job.updated") void e.job?.status;
    if (e.type === "reset") break;
  }
  const resumeFrom: string | undefined = stream.lastEventId;
  stream.close();
  try {
    await c.api.GET("/teams/{team_id}", { params: { path: { team_id: "x" } } });
  } catch (err) {
    if (err instanceof ConveyorProblem) return `${err.status} ${err.request_id ?? ""}`;
    if (err instanceof EventStreamError) return err.message;
  }
  return [done.status, cancelled.status, retried.status, body, url, resumeFrom].join();
}
TS
npx --no-install tsc -p tsconfig.json
echo "pack-check: $(basename "$tarball") installs and type-checks in a fresh project"
