import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import { Quasar } from "quasar";
import { ConveyorProblem } from "@conveyor/client";
import ProblemAlert from "./ProblemAlert.vue";

const mountWith = (error: unknown, action?: string) =>
  mount(ProblemAlert, { props: { error, ...(action ? { action } : {}) }, global: { plugins: [Quasar] } });

describe("ProblemAlert", () => {
  it("shows a problem's title, status, detail, field errors and request id", () => {
    const p = new ConveyorProblem(
      {
        type: "https://conveyor.dev/problems/validation",
        title: "Invalid request",
        status: 422,
        detail: "params does not match the processor's params_schema.",
        request_id: "req-42",
        errors: [{ pointer: "/params/max_width", detail: "must be at most 4096" }],
      },
      new Response(null, { status: 422 }),
    );
    const w = mountWith(p, "Could not start the job");
    expect(w.attributes("role")).toBe("alert");
    const text = w.text();
    expect(text).toContain("Could not start the job: Invalid request");
    expect(text).toContain("(422)");
    expect(text).toContain("params does not match");
    expect(text).toContain("params › max_width: must be at most 4096");
    expect(w.find('[data-testid="request-id"]').text()).toBe("req-42");
  });

  it("shows a network failure plainly, with no request id", () => {
    const w = mountWith(new TypeError("Failed to fetch"));
    expect(w.text()).toContain("The request did not complete");
    expect(w.text()).toContain("Failed to fetch");
    expect(w.find('[data-testid="request-id"]').exists()).toBe(false);
  });

  it("emits dismiss", async () => {
    const w = mountWith(new Error("x"));
    await w.find("button").trigger("click");
    expect(w.emitted("dismiss")).toHaveLength(1);
  });
});
