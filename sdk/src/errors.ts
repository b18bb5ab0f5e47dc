/** An RFC 9457 problem as EdgeRAG sends it (`application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  request_id?: string;
  errors?: Array<{ path: string; message: string }>;
  see?: Array<{ title: string; url: string }>;
  [extra: string]: unknown;
}

/** A refused request: the problem EdgeRAG answered with, and the response's status. */
export class EdgeRAGError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(`${problem.code} (${problem.status}): ${problem.detail}`);
    this.name = "EdgeRAGError";
    this.status = problem.status;
    this.code = problem.code;
    this.problem = problem;
  }

  /** The error for a non-2xx response, its body read as a problem when it is one. */
  static async from(response: Response): Promise<EdgeRAGError> {
    const text = await response.text().catch(() => "");
    let body: Partial<Problem> = {};
    try {
      body = JSON.parse(text) as Partial<Problem>;
    } catch {
      // not JSON: a proxy's page, say
    }
    return new EdgeRAGError({
      type: body.type ?? "about:blank",
      title: body.title ?? response.statusText,
      status: body.status ?? response.status,
      code: body.code ?? `http_${response.status}`,
      detail: body.detail ?? (text.slice(0, 200) || response.statusText),
      ...body,
    } as Problem);
  }
}
