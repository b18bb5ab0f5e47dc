// Ingesting a BEIR corpus through the public API (the batch route, then the real queue consumer),
// shared by the evaluation and the benchmarks.

/** 0–99 from a string (FNV-1a): a document's `bucket`, so a filter can select 1 %, 10 %, 50 % of a collection. */
export function bucketOf(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h % 100;
}

/**
 * Uploads `docs` 100 at a time; returns Map(document id -> BEIR id). `copy` > 0 marks repeats.
 * Each document's metadata holds its BEIR id and a `bucket` (0–99) for filter benchmarks.
 */
export async function uploadCorpus(api, key, collectionId, docs, { copy = 0, priority = "normal" } = {}) {
  const ids = new Map();
  for (let i = 0; i < docs.length; i += 100) {
    const slice = docs.slice(i, i + 100);
    const result = await api(
      "POST",
      `/v1/collections/${collectionId}/documents/batch`,
      {
        documents: slice.map((d) => ({
          title: (d.title || d._id).slice(0, 500),
          text: `${d.title}\n${d.text}${copy > 0 ? `\n(copy ${copy})` : ""}`,
          metadata: { beir_id: d._id, bucket: bucketOf(`${d._id}/${copy}`) },
          priority,
        })),
      },
      key,
    );
    for (const item of result.items) {
      if (item.document) {
        ids.set(item.document.id, slice[item.index]._id);
      } else {
        console.warn(`document ${slice[item.index]._id} refused: ${item.error?.detail}`);
      }
    }
  }
  return ids;
}

/** Waits until no document of the collection is queued or processing; returns counts per status. */
export async function waitIngested(db, collectionId, { progress = true } = {}) {
  for (;;) {
    const { results } = await db
      .prepare("SELECT status, COUNT(*) AS n FROM documents WHERE collection_id = ? GROUP BY status")
      .bind(collectionId)
      .all();
    const counts = Object.fromEntries(results.map((r) => [r.status, r.n]));
    if (progress) {
      process.stdout.write(`\ringesting: ${JSON.stringify(counts)}`.padEnd(70));
    }
    if ((counts.queued ?? 0) + (counts.processing ?? 0) === 0) {
      if (progress) {
        process.stdout.write("\n");
      }
      return counts;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Chunks stored for a collection (in its shard; D1 keeps each document's count). */
export async function chunkCount(db, collectionId) {
  const row = await db
    .prepare("SELECT COALESCE(SUM(chunk_count), 0) AS n FROM documents WHERE collection_id = ? AND status = 'ready'")
    .bind(collectionId)
    .first();
  return row.n;
}
