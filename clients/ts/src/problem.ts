// ConveyorProblem: every answer outside 2xx, as a typed error.

import type { components } from "./schema.gen.js";

/** An RFC 9457 problem document, as the API returns for every 4xx and 5xx. */
export type Problem = components["schemas"]["Problem"];
export type FieldError = components["schemas"]["FieldError"];

/**
 * Thrown for every answer outside 2xx. Carries the problem document the
 * server sent; when the body was not a problem document (a proxy's error
 * page, say) the fields are synthesised from the HTTP status.
 */
export class ConveyorProblem extends Error implements Problem {
  override readonly name = "ConveyorProblem";
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly request_id?: string;
  readonly errors?: FieldError[];
  /** The raw HTTP response (its body has been read). */
  readonly response: Response;

  constructor(problem: Problem, response: Response) {
    super(`${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}`);
    this.type = problem.type;
    this.title = problem.title;
    this.status = problem.status;
    if (problem.detail !== undefined) this.detail = problem.detail;
    if (problem.instance !== undefined) this.instance = problem.instance;
    if (problem.request_id !== undefined) this.request_id = problem.request_id;
    if (problem.errors !== undefined) this.errors = problem.errors;
    this.response = response;
  }

  /** Reads a non-2xx response into a ConveyorProblem. */
  static async fromResponse(response: Response): Promise<ConveyorProblem> {
    const text = await response.text().catch(() => "");
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const requestId = response.headers.get("X-Request-ID") ?? undefined;
    if (isProblem(parsed)) {
      const problem: Problem = { ...parsed };
      if (problem.request_id === undefined && requestId !== undefined) problem.request_id = requestId;
      return new ConveyorProblem(problem, response);
    }
    const problem: Problem = {
      type: "about:blank",
      title: response.statusText || `HTTP ${response.status}`,
      status: response.status,
    };
    if (text) problem.detail = text.slice(0, 4096);
    if (requestId !== undefined) problem.request_id = requestId;
    return new ConveyorProblem(problem, response);
  }
}

export function isProblem(v: unknown): v is Problem {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o["type"] === "string" && typeof o["title"] === "string" && typeof o["status"] === "number";
}

