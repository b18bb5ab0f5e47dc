import type { EdgeCache } from "./adapters/cache/interface";
import type { Db } from "./adapters/db/client";
import type { Embedder } from "./adapters/embed/interface";
import type { Generator } from "./adapters/generate/interface";
import type { RateLimiter } from "./adapters/rate-limit/interface";
import type { Reranker } from "./adapters/rerank/interface";
import type { VectorIndex } from "./adapters/vector/interface";
import type { Config } from "./config";
import type { Logger } from "./lib/log";
import type { RequestDeadline } from "./middleware/timeout";
import type { IngestMessage } from "./services/documents";
import type { Principal } from "./services/principal";

/** Per-request wiring, built once by the `services` middleware. */
export interface Services {
  db: Db;
  limiter: RateLimiter;
  blobs: R2Bucket;
  queues: { high: Queue<IngestMessage>; bulk: Queue<IngestMessage> };
  embedder: Embedder;
  vectors: VectorIndex;
  reranker: Reranker;
  generator: Generator;
  cache: EdgeCache;
}

/** Hono environment: `Env` comes from `wrangler types` (worker-configuration.d.ts). */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    request_id: string;
    config: Config;
    logger: Logger;
    services: Services;
    /** Set by the rate-limit middleware once the caller is identified; undefined = anonymous. */
    principal: Principal | undefined;
    /** The request's deadline (REQUEST_TIMEOUT_MS), set by the `deadline` middleware on /v1/*. */
    deadline: RequestDeadline | undefined;
    /** Why presented credentials were refused, reported by `requireAuth` as 401. */
    auth_error: string | undefined;
  };
}
