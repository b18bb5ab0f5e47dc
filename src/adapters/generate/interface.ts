/**
 * Writes the answer from numbered sources. The text streams as deltas and cites sources with
 * `[n]` markers; the caller validates the markers against the real sources afterwards.
 */
export interface GenerationSource {
  /** Citation number, 1-based, as the answer must cite it. */
  n: number;
  title: string;
  text: string;
}

export interface GenerateRequest {
  query: string;
  sources: GenerationSource[];
  /** Length budget of the answer. */
  maxTokens: number;
}

export interface Generator {
  /** `extractive`, `workers-ai/<model>`, `openai/<model>`: reported as `generator` in answers. */
  readonly name: string;
  /** Yields answer text deltas; stops early when `signal` aborts (client gone, deadline). */
  generate(request: GenerateRequest, options?: GenerateOptions): AsyncIterable<string>;
}

export interface GenerateOptions {
  signal?: AbortSignal;
  /** Lets a provider use the tenant's own credentials. */
  tenantId?: string;
}
