// Vite builds the console into gen/console/dist (see build.mjs) and serves it
// in development, proxying the API, the dev issuer and the runtime config to a
// running Conveyor (CONVEYOR_URL, default http://127.0.0.1:8080).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";
import { quasar, transformAssetUrls } from "@quasar/vite-plugin";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const upstream = process.env["CONVEYOR_URL"] ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  plugins: [vue({ template: { transformAssetUrls } }), quasar({ sassVariables: false })],
  resolve: {
    alias: {
      "@conveyor/client": here("../ts/src/index.ts"),
      "@": here("./src"),
    },
    // The TS client's sources import openapi-fetch: take the console's copy.
    dedupe: ["openapi-fetch", "vue"],
  },
  build: {
    outDir: here("../../gen/console/dist"),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
    modulePreload: { polyfill: false },
  },
  server: {
    host: "127.0.0.1",
    proxy: {
      "/api": { target: upstream, changeOrigin: false },
      "/dev": { target: upstream, changeOrigin: false },
      "/console/config.json": { target: upstream, changeOrigin: false },
    },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["src/test-setup.ts"],
    server: { deps: { inline: ["quasar"] } },
  },
});
