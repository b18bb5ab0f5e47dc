import type { IngestMessage } from "../../schemas/queue";
import type { IngestQueues } from "../queue";
import { handleIngestBatch, type IngestDeps } from "./consumer";
import { backlog, sweepStale } from "./sweep";

/** The capability the Worker's queue and cron handlers call: `services.ingest.<verb>(…)`. */
export function ingestService(deps: IngestDeps & { queues: IngestQueues }) {
  return {
    handleBatch: (batch: MessageBatch<IngestMessage>, deadLetter: boolean) =>
      handleIngestBatch(deps, batch, deadLetter),
    sweep: () => sweepStale(deps),
    /** Documents queued or processing, every tenant (the `ingest_backlog` gauge). */
    backlog: () => backlog(deps.db),
  };
}
export type IngestService = ReturnType<typeof ingestService>;
