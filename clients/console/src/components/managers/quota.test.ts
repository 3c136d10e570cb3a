import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import { Quasar } from "quasar";
import { joinBytes, quotaChange, quotaForm, splitBytes, storedShare } from "./quota";
import QuotaSummary from "./QuotaSummary.vue";

const defaults = {
  max_stored_bytes: 100 * 1024 ** 3,
  max_file_bytes: 5 * 1024 ** 3,
  max_running_jobs: 20,
  is_default: { max_stored_bytes: true, max_file_bytes: true, max_running_jobs: true },
};

describe("splitBytes and joinBytes", () => {
  it("shows a size in the largest unit that divides it", () => {
    expect(splitBytes(100 * 1024 ** 3)).toEqual({ value: 100, unit: "GiB" });
    expect(splitBytes(1536 * 1024 ** 2)).toEqual({ value: 1536, unit: "MiB" });
    expect(splitBytes(1_000_000)).toEqual({ value: 976.56, unit: "KiB" });
    expect(splitBytes(512)).toEqual({ value: 0.5, unit: "KiB" });
  });
  it("reads a typed size back in bytes, refusing what is not positive", () => {
    expect(joinBytes({ value: 1.5, unit: "GiB" })).toBe(1610612736);
    expect(joinBytes({ value: 0, unit: "MiB" })).toBeNull();
    expect(joinBytes({ value: Number.NaN, unit: "MiB" })).toBeNull();
  });
});

describe("quotaChange", () => {
  it("sends nothing when the form changes nothing", () => {
    expect(quotaChange(defaults, quotaForm(defaults))).toBeNull();
  });
  it("sends only the limits the form sets", () => {
    const f = quotaForm(defaults);
    f.storedDefault = false;
    f.stored = { value: 10, unit: "GiB" };
    expect(quotaChange(defaults, f)).toEqual({ max_stored_bytes: 10 * 1024 ** 3 });
  });
  it("puts a limit back to the default with null, and only when it was not", () => {
    const own = { ...defaults, max_running_jobs: 3, is_default: { ...defaults.is_default, max_running_jobs: false } };
    const f = quotaForm(own);
    expect(f.runningDefault).toBe(false);
    f.runningDefault = true;
    expect(quotaChange(own, f)).toEqual({ max_running_jobs: null });
  });
  it("names a limit typed wrong", () => {
    const f = quotaForm(defaults);
    f.fileDefault = false;
    f.file = { value: -1, unit: "MiB" };
    expect(() => quotaChange(defaults, f)).toThrow("Largest file must be a positive number.");
  });
});

describe("QuotaSummary", () => {
  it("shows the limits in force, which are defaults, and the share of storage used", () => {
    const quota = { ...defaults, max_stored_bytes: 1024 ** 3, is_default: { ...defaults.is_default, max_stored_bytes: false } };
    const w = mount(QuotaSummary, { props: { quota, storedBytes: 512 * 1024 ** 2 }, global: { plugins: [Quasar] } });
    expect(w.get('[data-testid="quota-stored"]').text()).toBe("512 MiB of 1 GiB");
    expect(w.find('[data-testid="quota-stored-default"]').exists()).toBe(false);
    expect(w.get('[data-testid="quota-file"]').text()).toBe("Files up to 5 GiB (default)");
    expect(w.get('[data-testid="quota-running"]').text()).toBe("20 running jobs at once (default)");
    expect(w.get('[role="progressbar"]').attributes("aria-valuenow")).toBe("50");
    expect(storedShare(2, 1)).toBe(1);
  });
});
