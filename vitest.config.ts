import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig, type ViteUserConfig } from "vitest/config";
import { unstable_readConfig } from "wrangler";

/** `npm run coverage`: istanbul (instrumented in the transform, so it works inside workerd). */
const coverage: NonNullable<ViteUserConfig["test"]>["coverage"] = {
  provider: "istanbul",
  include: ["src/**/*.ts"],
  reporter: [["text-summary"], ["text", { skipFull: true }], ["json-summary"]],
  reportsDirectory: "coverage",
  // The bar for the domain and the helpers; the run fails under it.
  thresholds: {
    "src/services/**": { lines: 80 },
    "src/lib/**": { lines: 80 },
  },
};

/** Settings every layer shares: the operator token, the keyring, quiet logs, generous tiers. */
const common = {
  ADMIN_TOKEN: "test-admin-token",
  ENCRYPTION_KEYS: "v1:ZWRnZXJhZy1sb2NhbC1kZXYta2V5LTMyLWJ5dGVzISE=",
  LOG_LEVEL: "warn",
  // Generous shared tiers; rate-limit tests use their own env with small ones.
  RATE_LIMIT_TIERS: JSON.stringify({
    anonymous: { limit: 1_000_000, window_s: 60 },
    operator: { limit: 1_000_000, window_s: 60 },
    standard: { limit: 1_000_000, window_s: 60 },
  }),
};

/**
 * Two layers, each runnable alone (`npm run test:unit`, `npm run test:integration`); both run
 * inside workerd with the local bindings from wrangler.toml (D1, Durable Objects, R2, queues —
 * simulated by Miniflare, no system program).
 * - `unit`: services and lib over in-memory adapters. No global setup: nothing is started.
 * - `integration`: through the Worker. test/support/global-setup.ts runs in Node first and starts
 *   the system programs and stand-ins the suite talks to over loopback (redis-server behind the
 *   Upstash REST shim, the OpenAI, OTLP, DoH and webhook stand-ins, a served Worker).
 * The third layer, `npm run test:e2e`, is scripts/ and test/node/ against served Workers.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  // The queues as wrangler.toml declares them, for the tests that drive queue work themselves
  // (test/support/queues.ts): producers' bindings, consumers' batch sizes, retries, dead letters.
  const { queues } = unstable_readConfig({ config: path.join(import.meta.dirname, "wrangler.toml") });
  const shared = {
    setupFiles: ["./test/support/apply-migrations.ts"],
    silent: "passed-only" as const,
    testTimeout: 20_000,
    hookTimeout: 30_000,
  };
  /**
   * The integration layer through the Worker, on D1 (`integration`) or on PostgreSQL through a
   * Hyperdrive binding (`integration-postgres`): the same files, the whole suite on each store.
   */
  const integration = (postgres: boolean) => ({
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            TEST_QUEUES: JSON.stringify({ producers: queues.producers, consumers: queues.consumers }),
            ...common,
            // Property-test runs per route family: 1,000 in CI, fewer for a quick local run.
            // On PostgreSQL 200 (they check validation, which does not depend on the store).
            TEST_FUZZ_RUNS: process.env.FUZZ_RUNS ?? (process.env.CI && !postgres ? "1000" : "200"),
            TEST_UPSTASH_URL: inject<string>("upstashUrl"),
            TEST_UPSTASH_TOKEN: inject<string>("upstashToken"),
            TEST_UPSTASH_SKIP: inject<string>("upstashSkip"),
            TEST_HANG_URL: inject<string>("hangUrl"),
            TEST_WORKER_URL: inject<string>("workerUrl"),
            TEST_OPENAI_URL: inject<string>("openAiUrl"),
            TEST_UPSTASH_VECTOR_URL: inject<string>("upstashVectorUrl"),
            TEST_UPSTASH_VECTOR_TOKEN: inject<string>("upstashVectorToken"),
            TEST_WEBHOOK_RECEIVER_URL: inject<string>("webhookReceiverUrl"),
            TEST_CANARY_URL: inject<string>("canaryUrl"),
            TEST_OTLP_URL: inject<string>("otlpUrl"),
            // Tracing on, to the OTLP stand-in: only traces a test starts sampled are recorded.
            OTEL_EXPORTER_OTLP_ENDPOINT: inject<string>("otlpUrl"),
            OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20otlp-test-key",
            TRACE_SAMPLE_RATIO: "0",
            // Webhooks: DNS from the DoH stand-in; the receiver on loopback; a short schedule.
            WEBHOOK_DNS_RESOLVER: inject<string>("dohUrl"),
            WEBHOOK_ALLOW_LOOPBACK: "true",
            WEBHOOK_RETRY_SCHEDULE_S: "0,1,1",
            WEBHOOK_TIMEOUT_MS: "2000",
            // Small notification limits, so the caps and retention are reachable in a test.
            NOTIFY_MAX_SOCKETS_PER_KEY: "3",
            NOTIFY_MAX_SOCKETS_PER_TENANT: "5",
            NOTIFY_MAX_MESSAGE_BYTES: "1024",
            NOTIFY_RETAIN_EVENTS: "100",
            NOTIFY_RETAIN_HOURS: "24",
            // Small shards, so the capacity limit is reachable in a test (1,000 × 384-d vectors).
            VECTOR_SHARD_MAX_BYTES: String(1_000 * 384 * 4),
            // Splits move a few chunks per step, so a test's split takes many interleavable
            // steps (the split threshold itself is set per test: shard-split.test.ts).
            SEARCH_SHARD_MOVE_CHUNKS: "8",
            ...(postgres ? { DATABASE_PROVIDER: "hyperdrive" } : {}),
          },
          // The PostgreSQL project's store: a database of its own (test/support/postgres-setup.ts).
          ...(postgres ? { hyperdrives: { HYPERDRIVE: inject<string>("postgresUrl") } } : {}),
        },
      })),
    ],
    test: {
      ...shared,
      name: postgres ? "integration-postgres" : "integration",
      include: ["test/integration/**/*.test.ts"],
      globalSetup: ["./test/support/global-setup.ts", ...(postgres ? ["./test/support/postgres-setup.ts"] : [])],
    },
  });
  return {
    test: {
      coverage,
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: { bindings: { TEST_MIGRATIONS: migrations, ...common } },
            }),
          ],
          // One worker for every file: nothing is started per file, and unit tests share no state.
          test: { ...shared, name: "unit", include: ["test/unit/**/*.test.ts"], isolate: false },
        },
        integration(false),
        integration(true),
      ],
    },
  };
});
