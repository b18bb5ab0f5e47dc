import type { Resolver } from "./interface";

/** Fixed answers per name, for unit tests. */
export class MemoryResolver implements Resolver {
  readonly name = "memory";

  constructor(private readonly answers: Record<string, string[]>) {}

  async resolve(host: string): Promise<string[]> {
    return this.answers[host.toLowerCase()] ?? [];
  }
}
