import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ChunkStore, type ShardChunk } from "../../src/durable-objects/chunk-store";
import type { VectorShard } from "../../src/durable-objects/vector-shard";

const chunk = (id: string, documentId: string, text: string): ShardChunk => ({
  id,
  document_id: documentId,
  ordinal: 0,
  title: "규정",
  heading: null,
  text,
  page: null,
  token_estimate: 10,
  char_start: 0,
  char_end: text.length,
});

const keyword = (store: ChunkStore, terms: string[]) =>
  store
    .keyword({
      terms,
      limit: 10,
      commonTermRatio: 1,
      pruneFromChunks: 0,
      weights: { title: 1, heading: 1, text: 1 },
    })
    .hits.map((h) => h.id);

/** The first layout of a shard's keyword index: external content, kept by triggers, CJK runs whole. */
const LEGACY = [
  "DROP TABLE IF EXISTS chunks_fts_vocab",
  "DROP TABLE IF EXISTS chunks_fts",
  `CREATE VIRTUAL TABLE chunks_fts USING fts5(title, heading, text,
     content='chunks', content_rowid='seq', tokenize='porter unicode61')`,
  `CREATE TRIGGER chunks_fts_after_insert AFTER INSERT ON chunks BEGIN
     INSERT INTO chunks_fts (rowid, title, heading, text) VALUES (new.seq, new.title, new.heading, new.text);
   END`,
  `CREATE TRIGGER chunks_fts_after_delete AFTER DELETE ON chunks BEGIN
     INSERT INTO chunks_fts (chunks_fts, rowid, title, heading, text) VALUES ('delete', old.seq, old.title, old.heading, old.text);
   END`,
  "CREATE VIRTUAL TABLE chunks_fts_vocab USING fts5vocab(chunks_fts, 'row')",
];

const shard = () => env.VECTOR_SHARD.get(env.VECTOR_SHARD.idFromName(`index-test-${crypto.randomUUID()}`));

describe("a shard's keyword index", () => {
  it("indexes CJK text as character bigrams, and follows replaces and deletes", async () => {
    await runInDurableObject(shard(), async (_shard: VectorShard, state) => {
      const store = new ChunkStore(state.storage.sql);
      store.replace(["d1"], [chunk("c1", "d1", "연차 휴가는 매년 15일이 주어진다.")]);
      store.replace(["d2"], [chunk("c2", "d2", "東京都に住んでいます。Salaries are paid monthly.")]);
      expect(keyword(store, ["휴가"])).toEqual(["c1"]);
      expect(keyword(store, ["東京"])).toEqual(["c2"]);
      expect(keyword(store, ["salary"])).toEqual(["c2"]);
      expect(store.termStats(["휴가", "東京", "없음"])).toEqual({ chunks: 2, df: { 휴가: 1, 東京: 1, 없음: 0 } });
      // A replaced text leaves the index with the row; a deleted document leaves it entirely.
      store.replace(["d1"], [chunk("c1", "d1", "급여는 매월 지급된다.")]);
      expect(keyword(store, ["휴가"])).toEqual([]);
      expect(keyword(store, ["급여"])).toEqual(["c1"]);
      store.deleteDocuments(["d2"]);
      expect(keyword(store, ["東京", "salary"])).toEqual([]);
      expect(store.termStats(["급여"])).toEqual({ chunks: 1, df: { 급여: 1 } });
    });
  });

  it("rebuilds an index of the first layout from its chunk rows when the shard starts", async () => {
    await runInDurableObject(shard(), async (_shard: VectorShard, state) => {
      const sql = state.storage.sql;
      for (const statement of LEGACY) {
        sql.exec(statement);
      }
      const rows = [
        chunk("c1", "d1", "연차 휴가는 매년 15일이 주어진다."),
        chunk("c2", "d2", "Employees receive twenty five days of paid vacation."),
      ];
      for (const r of rows) {
        sql.exec(
          "INSERT INTO chunks (id, document_id, ordinal, title, heading, text, page, token_estimate, char_start, char_end) VALUES (?, ?, 0, ?, NULL, ?, NULL, 10, 0, 10)",
          r.id,
          r.document_id,
          r.title,
          r.text,
        );
      }
      // The first layout cannot find a Korean stem inside an inflected word.
      const legacyHits = sql
        .exec<{ rowid: number }>("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", '"휴가"')
        .toArray();
      expect(legacyHits).toEqual([]);

      const store = new ChunkStore(sql);
      expect(keyword(store, ["휴가"])).toEqual(["c1"]);
      expect(keyword(store, ["vacations"])).toEqual(["c2"]);
      expect(store.count()).toEqual({ chunks: 2, documents: 2 });
      const triggers = sql.exec("SELECT name FROM sqlite_master WHERE type = 'trigger'").toArray();
      expect(triggers).toEqual([]);
      // Starting again finds the new layout and leaves it as it is.
      const again = new ChunkStore(sql);
      expect(keyword(again, ["휴가"])).toEqual(["c1"]);
      store.deleteDocuments(["d1"]);
      expect(keyword(again, ["휴가"])).toEqual([]);
    });
  });
});
