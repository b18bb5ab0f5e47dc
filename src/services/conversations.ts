/**
 * Conversations: a tenant's turns, so `/v1/query` can make a follow-up standalone before retrieval
 * (lib/rewrite.ts). A conversation belongs to the key — and the end-user token, if one — that
 * created it: only that caller, or an unrestricted admin key of the tenant, reads, uses or deletes
 * it; anyone else gets 404. Every query is scoped by tenant. Turns are kept until
 * CONVERSATION_RETENTION_DAYS after the last one; the cron deletes what expired.
 */
import { and, asc, eq, lte } from "drizzle-orm";
import type { Db } from "../adapters/db/client";
import { type ConversationRow, conversations, conversationTurns } from "../adapters/db/schema";
import type { Config } from "../config";
import { AppError } from "../errors";
import { newId } from "../lib/ids";
import type { Turn } from "../lib/rewrite";
import { iso } from "../schemas/common";
import type { ConversationView } from "../schemas/conversations";
import { covers, type KeyPrincipal, TENANT_WIDE } from "./principal";

/** Turns a conversation keeps at most (the oldest go first); the rewrite reads the last MAX_HISTORY. */
export const MAX_TURNS = 200;
/** Turns a follow-up is rewritten with at most (as inline `history`). */
export const MAX_HISTORY = 20;
/** Conversations expired and deleted per cron tick at most. */
const PURGE_BATCH = 500;

export interface ConversationDeps {
  db: Db;
  config: Pick<Config, "conversationRetentionMs">;
}

function owns(principal: KeyPrincipal, row: ConversationRow): boolean {
  if (principal.token) {
    return row.tokenId === principal.token.id;
  }
  return (row.keyId === principal.keyId && row.tokenId === null) || covers(principal, TENANT_WIDE);
}

async function ownedConversation(db: Db, principal: KeyPrincipal, id: string, now: number): Promise<ConversationRow> {
  const row = await db
    .select()
    .from(conversations)
    .where(and(eq(conversations.id, id), eq(conversations.tenantId, principal.tenantId)))
    .get();
  if (!row || row.expiresAt <= now || !owns(principal, row)) {
    throw new AppError("not_found", "No such conversation.");
  }
  return row;
}

export function conversationService(deps: ConversationDeps) {
  const { db } = deps;
  const retention = deps.config.conversationRetentionMs;
  return {
    async create(principal: KeyPrincipal): Promise<ConversationView> {
      const now = Date.now();
      const row: ConversationRow = {
        id: newId("conv"),
        tenantId: principal.tenantId,
        keyId: principal.keyId,
        tokenId: principal.token?.id ?? null,
        turns: 0,
        createdAt: now,
        updatedAt: now,
        expiresAt: now + retention,
      };
      await db.insert(conversations).values(row).run();
      return { ...view(row), turns: [] };
    },

    async get(principal: KeyPrincipal, id: string): Promise<ConversationView> {
      const row = await ownedConversation(db, principal, id, Date.now());
      const turns = await db
        .select()
        .from(conversationTurns)
        .where(and(eq(conversationTurns.conversationId, id), eq(conversationTurns.tenantId, principal.tenantId)))
        .orderBy(asc(conversationTurns.seq));
      return {
        ...view(row),
        turns: turns.map((t) => ({
          role: t.role,
          content: t.content,
          rewritten_query: t.rewrittenQuery,
          created_at: iso(t.createdAt) as string,
        })),
      };
    },

    async delete(principal: KeyPrincipal, id: string): Promise<void> {
      await ownedConversation(db, principal, id, Date.now());
      await db.batch([
        db
          .delete(conversationTurns)
          .where(and(eq(conversationTurns.conversationId, id), eq(conversationTurns.tenantId, principal.tenantId))),
        db.delete(conversations).where(and(eq(conversations.id, id), eq(conversations.tenantId, principal.tenantId))),
      ]);
    },

    /** The last MAX_HISTORY turns, oldest first (404 unless the caller owns the conversation). */
    async history(principal: KeyPrincipal, id: string): Promise<Turn[]> {
      const row = await ownedConversation(db, principal, id, Date.now());
      const turns = await db.$client
        .prepare(
          `SELECT role, content FROM conversation_turns WHERE conversation_id = ? AND tenant_id = ? AND seq > ?
           ORDER BY seq`,
        )
        .bind(id, principal.tenantId, Math.max(0, row.turns - MAX_HISTORY))
        .all<Turn>();
      return turns.results;
    },

    /**
     * Appends a question and its answer as two turns, in one transaction: the sequence numbers
     * come from the row's count inside it, so concurrent appends never collide; turns past
     * MAX_TURNS are dropped from the start; the expiry moves with the last turn.
     */
    async append(
      principal: KeyPrincipal,
      id: string,
      question: { content: string; rewrittenQuery: string | null },
      answer: string,
    ): Promise<void> {
      const now = Date.now();
      const seq = "(SELECT turns FROM conversations WHERE id = ?1 AND tenant_id = ?2)";
      await db.$client.batch([
        db.$client
          .prepare(
            `INSERT INTO conversation_turns (conversation_id, seq, tenant_id, role, content, rewritten_query, created_at)
             VALUES (?1, ${seq} + 1, ?2, 'user', ?3, ?4, ?5), (?1, ${seq} + 2, ?2, 'assistant', ?6, NULL, ?5)`,
          )
          .bind(id, principal.tenantId, question.content, question.rewrittenQuery, now, answer),
        db.$client
          .prepare(
            "UPDATE conversations SET turns = turns + 2, updated_at = ?3, expires_at = ?4 WHERE id = ?1 AND tenant_id = ?2",
          )
          .bind(id, principal.tenantId, now, now + retention),
        db.$client
          .prepare(
            `DELETE FROM conversation_turns WHERE conversation_id = ?1 AND tenant_id = ?2 AND seq <= ${seq} - ?3`,
          )
          .bind(id, principal.tenantId, MAX_TURNS),
      ]);
    },

    /** The cron job: conversations past their expiry, with their turns. */
    async purgeExpired(now = Date.now()): Promise<number> {
      const expired = await db
        .select({ id: conversations.id })
        .from(conversations)
        .where(lte(conversations.expiresAt, now))
        .limit(PURGE_BATCH);
      if (expired.length === 0) {
        return 0;
      }
      const ids = JSON.stringify(expired.map((r) => r.id));
      await db.$client.batch([
        db.$client
          .prepare("DELETE FROM conversation_turns WHERE conversation_id IN (SELECT value FROM json_each(?))")
          .bind(ids),
        db.$client.prepare("DELETE FROM conversations WHERE id IN (SELECT value FROM json_each(?))").bind(ids),
      ]);
      return expired.length;
    },
  };
}
export type ConversationService = ReturnType<typeof conversationService>;

function view(row: ConversationRow): Omit<ConversationView, "turns"> {
  return {
    id: row.id,
    created_at: iso(row.createdAt) as string,
    updated_at: iso(row.updatedAt) as string,
    expires_at: iso(row.expiresAt) as string,
  };
}
