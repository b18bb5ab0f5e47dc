import type { Turn } from "../../lib/rewrite";
import type { TermStats } from "../shards/interface";

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
  /** Sentences the answer should not exceed (the mode's; a typical answer is one). */
  maxSentences?: number;
  /** Extractive: a further sentence is said only if it scores at least this share of the best. */
  followRatio?: number;
  /** The collection's statistics for the query's terms, to weigh them (extractive). */
  stats?: TermStats;
  /**
   * A follow-up as the user asked it, when `query` is its standalone rewrite (extractive: its own
   * words weigh fully, the words carried from the conversation half).
   */
  focus?: string;
}

export interface Generator {
  /** `extractive`, `workers-ai/<model>`, `openai/<model>`: reported as `generator` in answers. */
  readonly name: string;
  /** Yields answer text deltas; stops early when `signal` aborts (client gone, deadline). */
  generate(request: GenerateRequest, options?: GenerateOptions): AsyncIterable<string>;
  /**
   * A model's standalone version of a follow-up (`buildRewriteMessages`), or undefined when its
   * reply is unusable. Generators without it (extractive) leave follow-ups to lib/rewrite.ts.
   */
  rewrite?(question: string, history: Turn[], options?: GenerateOptions): Promise<string | undefined>;
}

export interface GenerateOptions {
  signal?: AbortSignal;
  /** Lets a provider use the tenant's own credentials. */
  tenantId?: string;
}
