/**
 * Outbound webhooks (Standard Webhooks v1), delivered at least once through the webhook queue.
 * Every event a hub stores is fanned out to the tenant's endpoints that subscribe to its type as
 * one delivery row each (unique per endpoint and event, so a repeated fan-out adds nothing) and a
 * queue message. An attempt re-checks the URL and its DNS answers, signs the body with the current
 * secret (and the previous one during a rotation), POSTs without following redirects and with a
 * timeout; any 2xx is success, 410 disables the endpoint at once, anything else is retried on the
 * schedule, and an endpoint whose delivery fails the whole schedule is disabled (`webhook.disabled`).
 */
import type { Db } from "../../adapters/db/client";
import type { Resolver } from "../../adapters/dns/interface";
import type { Config } from "../../config";
import type { Logger } from "../../lib/log";
import type { WebhookMessage } from "../../schemas/webhooks";
import type { Notify } from "../notifications/service";
import { webhookConsumer } from "./consumer";
import { webhookDelivery } from "./delivery";
import { webhookEndpoints } from "./endpoints";
import { webhookSweep } from "./sweep";

export { ROTATION_OVERLAP_MS } from "./endpoints";

export interface WebhookDeps {
  db: Db;
  config: Config;
  queue: Queue<WebhookMessage>;
  resolver: Resolver;
  notify: Notify;
  logger: Pick<Logger, "info" | "warn" | "error">;
  fetch?: typeof fetch;
}

/** The endpoints (tenant-facing), the queue consumer and the sweep, over one delivery mechanism. */
export function webhookService(deps: WebhookDeps) {
  const delivery = webhookDelivery(deps);
  return { ...webhookEndpoints(deps, delivery), ...webhookConsumer(deps, delivery), ...webhookSweep(deps) };
}

export type WebhookService = ReturnType<typeof webhookService>;
