// quota: a team's limits as the IT manager reads and edits them. The API
// says which limits are in force and which are the platform's defaults;
// this only turns bytes into a value and a unit and back, and works out
// which limits a form changes.

import type { components } from "@conveyor/client";

type TeamQuota = components["schemas"]["TeamQuota"];
type TeamQuotaUpdate = components["schemas"]["TeamQuotaUpdate"];

/** SIZE_UNITS are the units a size limit is typed in. */
export const SIZE_UNITS = [
  { label: "KiB", bytes: 1024 },
  { label: "MiB", bytes: 1024 ** 2 },
  { label: "GiB", bytes: 1024 ** 3 },
  { label: "TiB", bytes: 1024 ** 4 },
] as const;
export type SizeUnit = (typeof SIZE_UNITS)[number]["label"];

/** SizeValue is a size as typed: a number and a unit. */
export interface SizeValue {
  value: number;
  unit: SizeUnit;
}

/** splitBytes shows n bytes in the largest unit that divides it, else the largest not above it, to two decimals. */
export function splitBytes(n: number): SizeValue {
  for (let i = SIZE_UNITS.length - 1; i >= 0; i--) {
    const u = SIZE_UNITS[i]!;
    if (n >= u.bytes && n % u.bytes === 0) return { value: n / u.bytes, unit: u.label };
  }
  for (let i = SIZE_UNITS.length - 1; i >= 0; i--) {
    const u = SIZE_UNITS[i]!;
    if (n >= u.bytes) return { value: Math.round((n / u.bytes) * 100) / 100, unit: u.label };
  }
  return { value: Math.round((n / 1024) * 100) / 100, unit: "KiB" };
}

/** joinBytes is the byte count of a typed size, or null when it is not a positive number. */
export function joinBytes(v: SizeValue): number | null {
  const unit = SIZE_UNITS.find((u) => u.label === v.unit);
  if (!unit || !Number.isFinite(v.value) || v.value <= 0) return null;
  return Math.round(v.value * unit.bytes);
}

/** QuotaForm is the edit form: each limit's typed value, or the platform's default. */
export interface QuotaForm {
  storedDefault: boolean;
  stored: SizeValue;
  fileDefault: boolean;
  file: SizeValue;
  runningDefault: boolean;
  running: number;
}

/** quotaForm fills the form from the limits in force. */
export function quotaForm(q: TeamQuota): QuotaForm {
  return {
    storedDefault: q.is_default.max_stored_bytes,
    stored: splitBytes(q.max_stored_bytes),
    fileDefault: q.is_default.max_file_bytes,
    file: splitBytes(q.max_file_bytes),
    runningDefault: q.is_default.max_running_jobs,
    running: q.max_running_jobs,
  };
}

/**
 * quotaChange is what PATCH /teams/{team_id} must send for the form: only
 * the limits it changes (null: back to the default), or null when it
 * changes nothing. It throws, naming the limit, when a typed value is not
 * a positive number.
 */
export function quotaChange(cur: TeamQuota, f: QuotaForm): TeamQuotaUpdate | null {
  const out: TeamQuotaUpdate = {};
  const pick = <K extends keyof TeamQuotaUpdate>(key: K, toDefault: boolean, value: number | null, what: string) => {
    if (toDefault) {
      if (!cur.is_default[key]) out[key] = null;
      return;
    }
    if (value === null) throw new Error(`${what} must be a positive number.`);
    if (cur.is_default[key] || cur[key] !== value) out[key] = value;
  };
  pick("max_stored_bytes", f.storedDefault, joinBytes(f.stored), "Storage");
  pick("max_file_bytes", f.fileDefault, joinBytes(f.file), "Largest file");
  pick("max_running_jobs", f.runningDefault, Number.isInteger(f.running) && f.running > 0 ? f.running : null, "Running jobs");
  return Object.keys(out).length ? out : null;
}

/** storedShare is how much of its storage quota a team uses, 0 to 1. */
export function storedShare(stored: number, limit: number): number {
  if (!(limit > 0) || !(stored > 0)) return 0;
  return Math.min(stored / limit, 1);
}
