import type { ChunkShards } from "../../adapters/shards/interface";
import type { IngestMessage } from "../../schemas/queue";
import type { KeyPrincipal } from "../principal";
import type { IngestQueues } from "../queue";
import { handleIngestBatch, type IngestDeps } from "./consumer";
import { migrateToShards, rebuildShard } from "./shards";
import { backlog, sweepStale } from "./sweep";

/** The capability the Worker's queue and cron handlers call: `services.ingest.<verb>(…)`. */
export function ingestService(deps: IngestDeps & { queues: IngestQueues; shards: ChunkShards }) {
  return {
    handleBatch: (batch: MessageBatch<IngestMessage>, deadLetter: boolean) =>
      handleIngestBatch(deps, batch, deadLetter),
    sweep: () => sweepStale(deps),
    /** Documents queued or processing, every tenant (the `ingest_backlog` gauge). */
    backlog: () => backlog(deps.db),
    /** The cron's one-off move of D1's chunks into the shards (idempotent, resumable). */
    migrateToShards: (budgetMs?: number) => migrateToShards(deps, budgetMs),
    /** Repair: every document of the collection re-ingested from its original in R2. */
    rebuild: (principal: KeyPrincipal, collectionId: string, charge: (units: number) => Promise<void>) =>
      rebuildShard(deps, principal, collectionId, charge),
  };
}
export type IngestService = ReturnType<typeof ingestService>;
