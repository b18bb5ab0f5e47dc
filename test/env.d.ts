import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** wrangler.toml's `queues` (producers and consumers), as JSON: see test/support/queues.ts. */
      TEST_QUEUES: string;
      /** fast-check runs per route family (FUZZ_RUNS; 1,000 with CI=true, else 200). */
      TEST_FUZZ_RUNS: string;
      /** Upstash REST shim in front of a real redis-server (test/support/redis-rest-shim.ts). */
      TEST_UPSTASH_URL: string;
      TEST_UPSTASH_TOKEN: string;
      /** Non-empty only with EDGERAG_SKIP_SYSTEM_TESTS=1 and redis-server absent: the Upstash suites skip. */
      TEST_UPSTASH_SKIP: string;
      /** A loopback server that accepts connections and never answers (timeouts). */
      TEST_HANG_URL: string;
      /** The built Worker served by Miniflare on loopback (test/e2e). */
      TEST_WORKER_URL: string;
      TEST_OPENAI_URL: string;
      TEST_UPSTASH_VECTOR_URL: string;
      TEST_UPSTASH_VECTOR_TOKEN: string;
      /** Webhook receiver (paths choose the answer) and a canary that nothing may reach. */
      TEST_WEBHOOK_RECEIVER_URL: string;
      TEST_CANARY_URL: string;
      TEST_OTLP_URL: string;
    }
  }
}
