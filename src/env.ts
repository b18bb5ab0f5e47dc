import type { Config } from "./config";
import type { Services } from "./container";
import type { Logger } from "./lib/log";
import type { RequestDeadline } from "./middleware/timeout";
import type { Principal } from "./services/principal";
import type { Telemetry } from "./telemetry/trace";

export type { Services };

/** Hono environment: `Env` comes from `wrangler types` (worker-configuration.d.ts). */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    request_id: string;
    /** This request's trace and dependency tallies (the `telemetry` middleware, outermost). */
    telemetry: Telemetry;
    config: Config;
    logger: Logger;
    services: Services;
    /** Set by the rate-limit middleware once the caller is identified; undefined = anonymous. */
    principal: Principal | undefined;
    /** The request's deadline (REQUEST_TIMEOUT_MS), set by the `deadline` middleware on /v1/*. */
    deadline: RequestDeadline | undefined;
    /** Why presented credentials were refused, reported by `requireAuth` as 401. */
    auth_error: string | undefined;
    /** A JSON upload's texts as UTF-8 bytes (by document, for a batch), taken out of the body by `uploadBody`. */
    upload_texts: Uint8Array[] | undefined;
  };
}
