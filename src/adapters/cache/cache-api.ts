import type { EdgeCache } from "./interface";

/** A host no request can reach: entries are only ever read and written by this Worker. */
const ORIGIN = "https://edge-cache.edgerag.internal";

/**
 * The Workers Cache API (`caches.default`, per data centre). Values are stored as JSON responses
 * under a synthetic URL made of the key, with `Cache-Control: max-age` as their TTL; nothing
 * of a client's request or response is stored, so no authenticated response reaches it.
 */
export class CacheApiCache implements EdgeCache {
  readonly name = "cache-api";

  constructor(private readonly cache: Cache) {}

  async get<T>(key: string): Promise<T | undefined> {
    const hit = await this.cache.match(`${ORIGIN}/${key}`);
    return hit ? ((await hit.json()) as T) : undefined;
  }

  async put(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.cache.put(
      `${ORIGIN}/${key}`,
      new Response(JSON.stringify(value), {
        headers: { "content-type": "application/json", "cache-control": `max-age=${ttlSeconds}` },
      }),
    );
  }
}
