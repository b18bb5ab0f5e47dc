/** The ingestion queues' message (INGEST_HIGH, INGEST and their dead-letter queue): ids only. */
export interface IngestMessage {
  document_id: string;
  tenant_id: string;
}
