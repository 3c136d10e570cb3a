// Test setup (vitest, happy-dom): what Quasar reads at install that happy-dom lacks.
if (!("orientation" in window.screen) || !window.screen.orientation) {
  Object.defineProperty(window.screen, "orientation", {
    value: { type: "landscape-primary", angle: 0, addEventListener() {}, removeEventListener() {} },
    configurable: true,
  });
}
