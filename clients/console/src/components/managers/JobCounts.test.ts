import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import JobCounts from "./JobCounts.vue";

describe("JobCounts", () => {
  it("lists only the states the team has, in lifecycle order", () => {
    const w = mount(JobCounts, { props: { counts: { queued: 3, running: 0, succeeded: 1200, failed: 2, cancelled: 0 } } });
    expect(w.findAll("li").map((li) => li.text())).toEqual(["3 queued", "1,200 succeeded", "2 failed"]);
    expect(w.find('[data-state="running"]').exists()).toBe(false);
  });
  it("says when there are none", () => {
    const w = mount(JobCounts, { props: { counts: { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 } } });
    expect(w.text()).toBe("No jobs");
    expect(w.find("ul").exists()).toBe(false);
  });
});
