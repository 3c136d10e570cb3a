// main: loads the runtime config, sets up sign-in, then mounts the app.
import { createApp } from "vue";
import { Dialog, Notify, Quasar } from "quasar";
import iconSet from "quasar/icon-set/svg-material-icons";
import { QueryClient, VueQueryPlugin } from "@tanstack/vue-query";
import { ConveyorProblem } from "@conveyor/client";
import "quasar/dist/quasar.css";
import "./styles.css";
import App from "./App.vue";
import { initAuth } from "./auth";
import { loadConfig } from "./runtime-config";
import { makeRouter } from "./router";

async function start() {
  const config = await loadConfig();
  await initAuth(config);
  const queryClient = new QueryClient({
    defaultOptions: {
      queries: {
        // The client already retries 429/503 and network failures; a 4xx will not get better.
        retry: (n, err) => !(err instanceof ConveyorProblem) && n < 1,
        refetchOnWindowFocus: false,
      },
    },
  });
  createApp(App)
    .use(Quasar, {
      plugins: { Dialog, Notify },
      iconSet,
      // Brand colours dark enough for AA contrast with white text and on light backgrounds.
      config: { brand: { primary: "#1257a8", secondary: "#26615c", positive: "#1b7a34", negative: "#b3261e", info: "#0b6a8a", warning: "#8a5a00", dark: "#1d1d1d" } },
    })
    .use(VueQueryPlugin, { queryClient })
    .use(makeRouter())
    .mount("#app");
}

start().catch((err: unknown) => {
  const el = document.getElementById("app");
  if (el) {
    el.textContent = "";
    const p = document.createElement("p");
    p.setAttribute("role", "alert");
    p.style.cssText = "font-family: system-ui, sans-serif; margin: 2rem";
    p.textContent = `The console could not start: ${err instanceof Error ? err.message : String(err)}`;
    el.append(p);
  }
  throw err;
});
