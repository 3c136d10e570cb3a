// bytes: stored sizes as people read them, for the managers' usage columns.

const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] as const;

/**
 * humanBytes renders a byte count in binary units: exact below 1 KiB
 * ("512 B"), else three significant digits at most ("1.5 KiB", "12.3 MiB",
 * "640 GiB"). Anything that is not a non-negative finite number is "—".
 */
export function humanBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "—";
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.95 KiB would round up to "1024 KiB": say "1.00 MiB" instead.
  if (v >= 1023.95 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  const fixed = v.toFixed(digits);
  const shown = digits ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
  return `${shown} ${UNITS[u]}`;
}

/** exactBytes renders a byte count in full with digit grouping ("73,400,320 bytes"). */
export function exactBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "—";
  return `${new Intl.NumberFormat("en-US").format(n)} ${n === 1 ? "byte" : "bytes"}`;
}
