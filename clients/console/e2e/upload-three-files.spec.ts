// Flow: a member drops three files at once — one of 20 MiB — opening the
// picker from the keyboard, and watches per-file progress until all three
// are stored and listed.
import { checkA11y, expect, seedTeam, signIn, test, unique } from "./helpers";

const MiB = 1024 * 1024;

test("upload three files, one of 20 MiB, with progress visible", async ({ page }) => {
  const email = `${unique("grace")}@example.com`;
  const team = await seedTeam(unique("Uploads"), [{ email, role: "member" }]);
  await signIn(page, { email, name: "Grace Hopper" }, `/teams/${team.id}/files`);
  await expect(page.getByTestId("files-empty")).toBeVisible();
  await checkA11y(page, "the files page");

  // Slow the uploads down so that progress can be watched (loopback is too fast to see).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * MiB });

  const big = Buffer.alloc(20 * MiB);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE((i * 2654435761) >>> 0, i);
  const files = [
    { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("Conveyor e2e notes\n".repeat(100)) },
    { name: "table.csv", mimeType: "text/csv", buffer: Buffer.from("a,b\n" + Array.from({ length: 5000 }, (_, i) => `${i},${i * 2}`).join("\n")) },
    { name: "big.bin", mimeType: "application/octet-stream", buffer: big },
  ];

  // The drop zone is a button: Enter opens the file picker.
  const chooser = page.waitForEvent("filechooser");
  await page.getByTestId("drop-zone").focus();
  await page.keyboard.press("Enter");
  await (await chooser).setFiles(files);

  const queue = page.getByTestId("upload-queue");
  await expect(queue).toBeVisible();
  await expect(page.getByTestId("route-big.bin")).toBeVisible();

  // While the big one goes, its progress moves: bytes, speed and time left are shown.
  const bar = page.getByTestId("progress-big.bin");
  const seen = new Set<number>();
  let statusWhileUploading = "";
  for (let i = 0; i < 200; i++) {
    const now = Number(await bar.getAttribute("aria-valuenow"));
    seen.add(now);
    const st = await page.getByTestId("upload-big.bin").getAttribute("data-status");
    if (st === "uploading" && now > 20 && now < 90 && !statusWhileUploading) {
      statusWhileUploading = (await page.getByTestId("status-big.bin").textContent()) ?? "";
      await page.screenshot({ path: "e2e/screenshots/upload-progress.png" });
    }
    if (st === "done") break;
    await page.waitForTimeout(100);
  }
  const partial = [...seen].filter((v) => v > 0 && v < 100);
  expect(partial.length, `progress values seen: ${[...seen].join(", ")}`).toBeGreaterThanOrEqual(3);
  expect(statusWhileUploading).toMatch(/ of 20\.0 MiB · .+\/s · .+ left/);

  for (const f of files) await expect(page.getByTestId(`upload-${f.name}`)).toHaveAttribute("data-status", "done", { timeout: 60_000 });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  // Files of 8 MiB and more go straight to storage in parallel parts (the
  // bucket answers CORS for the console's origin), not through the API.
  await expect(page.getByTestId("route-big.bin")).toHaveText(/direct to storage/);

  // The list shows them (the event stream's file.created refreshed it).
  for (const f of files) await expect(page.getByTestId(`file-row-${f.name}`)).toBeVisible();
  await expect(page.getByTestId("file-row-big.bin")).toContainText("20.0 MiB");
  await checkA11y(page, "the files page with uploads");
});
