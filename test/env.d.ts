import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** Upstash REST shim in front of a real redis-server (test/support/redis-rest-shim.ts). */
      TEST_UPSTASH_URL: string;
      TEST_UPSTASH_TOKEN: string;
      /** Non-empty when redis-server is absent and CI is unset: the Upstash suite skips, loudly. */
      TEST_UPSTASH_SKIP: string;
      /** A loopback server that accepts connections and never answers (timeouts). */
      TEST_HANG_URL: string;
      /** The built Worker served by Miniflare on loopback (test/e2e). */
      TEST_WORKER_URL: string;
      TEST_OPENAI_URL: string;
      TEST_UPSTASH_VECTOR_URL: string;
      TEST_UPSTASH_VECTOR_TOKEN: string;
    }
  }
}
