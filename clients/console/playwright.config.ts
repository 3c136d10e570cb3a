// Playwright runs the console's e2e flows (e2e/<flow>.spec.ts) in Debian's
// chromium against a running Conveyor at CONVEYOR_URL (internal/app's
// TestConsoleE2E starts the real stack and runs this suite).
import { defineConfig } from "@playwright/test";

const baseURL = process.env["CONVEYOR_URL"];
if (!baseURL) throw new Error("playwright: set CONVEYOR_URL to a running Conveyor (e.g. http://127.0.0.1:8080)");

export default defineConfig({
  testDir: "e2e",
  testMatch: "*.spec.ts",
  outputDir: "test-results",
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 120_000,
  expect: { timeout: 20_000 },
  reporter: [["list"]],
  use: {
    baseURL,
    headless: true,
    viewport: { width: 1280, height: 860 },
    screenshot: "only-on-failure",
    trace: "off",
    acceptDownloads: true,
    launchOptions: {
      executablePath: process.env["CHROMIUM"] ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        // Any host but loopback is unresolvable: nothing can leave the machine.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
      ],
    },
  },
});
