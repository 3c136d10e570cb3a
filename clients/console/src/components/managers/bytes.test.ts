import { describe, expect, it } from "vitest";
import { exactBytes, humanBytes } from "./bytes";

describe("humanBytes", () => {
  it.each([
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1 KiB"],
    [1536, "1.5 KiB"],
    [10 * 1024 + 512, "10.5 KiB"],
    [640 * 1024 ** 3, "640 GiB"],
    [73_400_320, "70 MiB"],
    [1024 * 1024 - 1, "1 MiB"],
    [20 * 1024 * 1024, "20 MiB"],
    [1.25 * 1024 ** 4, "1.25 TiB"],
    [9007199254740991, "8 PiB"],
  ])("%d bytes is %s", (n, shown) => {
    expect(humanBytes(n)).toBe(shown);
  });

  it("keeps three significant digits at most", () => {
    expect(humanBytes(123.456 * 1024 * 1024)).toBe("123 MiB");
    expect(humanBytes(12.345 * 1024 * 1024)).toBe("12.3 MiB");
    expect(humanBytes(1.2345 * 1024 * 1024)).toBe("1.23 MiB");
  });

  it("shows a dash for what is not a size", () => {
    expect(humanBytes(-1)).toBe("—");
    expect(humanBytes(Number.NaN)).toBe("—");
    expect(humanBytes(Number.POSITIVE_INFINITY)).toBe("—");
  });
});

describe("exactBytes", () => {
  it("groups digits and says bytes", () => {
    expect(exactBytes(73_400_320)).toBe("73,400,320 bytes");
    expect(exactBytes(1)).toBe("1 byte");
    expect(exactBytes(0)).toBe("0 bytes");
  });
});
